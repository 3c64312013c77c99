"""`sealer status`, and the seal status output `operator unseal` shares with it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags
from sealer.cli.client import ClientError, RequestError
from sealer.cli.output import columns, dump

# Fields of sys/leader that Vault's status output carries over (all omitted when empty).
_LEADER_FIELDS = (
    "is_self", "active_time", "leader_address", "leader_cluster_address", "performance_standby",
    "performance_standby_last_remote_wal", "last_wal", "raft_committed_index", "raft_applied_index",
)


class StatusCommand(Command):
    name = "status"
    summary = "Print seal and HA status"
    usage = "status [options]"
    description = (
        "Prints the current state of the server, including whether it is sealed and if HA\n"
        "mode is enabled. This command prints regardless of whether the server is sealed.\n\n"
        "The exit code reflects the seal status:\n\n"
        "    - 0 - unsealed\n"
        "    - 1 - error\n"
        "    - 2 - sealed"
    )
    examples = ("sealer status", "sealer status -format=json | jq .sealed")
    flags = Flags.HTTP | Flags.FORMAT

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        try:
            status = ctx.client().get("sys/seal-status") or {}
        except RequestError as exc:
            raise CommandFailed(f"Error checking seal status: {exc}") from None
        code = output_seal_status(ctx, status)
        return Exit.SEALED if status.get("sealed") else code


def output_seal_status(ctx: Context, status: Mapping[str, Any]) -> int:
    """Print a seal status (from sys/seal-status, sys/unseal) with the HA facts of sys/leader."""
    merged = dict(status)
    merged["ha_enabled"] = False
    try:
        leader = ctx.client().get("sys/leader") or {}
    except ClientError as exc:
        if exc.status == 503:
            # As Vault: sys/leader answers "sealed" only on an HA server, so HA is on.
            leader = {"ha_enabled": True}
        elif exc.status == 404:
            leader = {}  # a server without sys/leader has no HA to report
        else:
            raise CommandFailed(f"Error checking leader status: {exc}") from None
    except RequestError as exc:
        raise CommandFailed(f"Error checking leader status: {exc}") from None
    merged["ha_enabled"] = bool(leader.get("ha_enabled"))
    for key in _LEADER_FIELDS:
        value = leader.get(key)
        if value and not (key == "active_time" and str(value).startswith("0001-")):
            merged[key] = value
    if ctx.format != "table":
        ctx.env.out(dump(merged, ctx.format))
    else:
        ctx.env.out(seal_status_table(merged))
    return Exit.OK


def _b(value: object) -> str:
    return "true" if value else "false"


def seal_status_table(s: Mapping[str, Any]) -> str:
    """The rows of Vault's OutputSealStatusStruct, in its order."""
    prefix = "Recovery " if s.get("recovery_seal") else ""
    sealed = bool(s.get("sealed"))
    threshold = s.get("t", 0)
    rows: list[tuple[str, str]] = [
        ("Key", "Value"),
        ("---", "-----"),
        (f"{prefix}Seal Type", str(s.get("type", ""))),
        ("Initialized", _b(s.get("initialized"))),
        ("Sealed", _b(sealed)),
        (f"Total {prefix}Shares", str(s.get("n", 0))),
        ("Threshold", str(threshold)),
    ]
    if sealed:
        rows += [("Unseal Progress", f"{s.get('progress', 0)}/{threshold}"),
                 ("Unseal Nonce", str(s.get("nonce", "")))]
    if s.get("migration"):
        rows.append(("Seal Migration in Progress", "true"))
    rows += [("Version", str(s.get("version", ""))),
             ("Build Date", str(s.get("build_date", ""))),
             ("Storage Type", str(s.get("storage_type", "")))]
    if s.get("cluster_name") and s.get("cluster_id"):
        rows += [("Cluster Name", s["cluster_name"]), ("Cluster ID", s["cluster_id"])]
    rows.append(("HA Enabled", _b(s.get("ha_enabled"))))
    if s.get("ha_enabled") and not sealed:
        rows.append(("HA Cluster", str(s.get("leader_cluster_address", ""))))
        is_self = bool(s.get("is_self"))
        rows.append(("HA Mode", "active" if is_self else "standby"))
        if is_self and s.get("active_time"):
            rows.append(("Active Since", str(s["active_time"])))
        if not is_self:
            rows.append(("Active Node Address", str(s.get("leader_address") or "<none>")))
    for key, label in (("raft_committed_index", "Raft Committed Index"),
                       ("raft_applied_index", "Raft Applied Index"), ("last_wal", "Last WAL")):
        if s.get(key):
            rows.append((label, str(s[key])))
    if s.get("warnings"):
        rows.append(("Warnings", "[" + " ".join(map(str, s["warnings"])) + "]"))
    return columns(rows)
