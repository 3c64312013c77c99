"""`sealer operator migrate`: drive a pending seal migration (shamir <-> pkcs11) to its end through
sys/unseal with migrate=true, one key holder's share at a time, showing progress."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.client import Client, RequestError
from sealer.cli.output import dump


class MigrateCommand(Command):
    name = "operator migrate"
    summary = "Migrate the seal between shamir and pkcs11"
    usage = "operator migrate [options] [KEY ...]"
    description = (
        "Completes a seal migration, as `vault operator unseal -migrate` does, one share at a time.\n\n"
        "Before running it: stop the server, change its configuration to the new seal and keep\n"
        "the old one marked `disabled: true` (shamir -> pkcs11: add the pkcs11 block, shamir needs\n"
        "none; pkcs11 -> shamir: mark the pkcs11 block `disabled: true`), and start it again: it\n"
        "stays sealed, in migration mode. Then each holder enters a share of the OLD seal (unseal\n"
        "shares from shamir, recovery shares from pkcs11). Nobody's share changes: unseal shares\n"
        "become recovery shares, and the other way round.\n\n"
        "Without KEY arguments each share is asked for without echo (one line of stdin each when\n"
        "stdin is not a terminal). An interrupted migration resumes: run this again with the same\n"
        "configuration. Afterwards remove the disabled block from the configuration."
    )
    examples = (
        "sealer operator migrate",
        "sealer operator migrate -status",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("keys", nargs="*", metavar="KEY",
                            help="shares of the old seal (hex or base64); asked for when left out")
        parser.add_argument("--status", action="store_true",
                            help="print whether a seal migration is pending: exit 0 if it is, 2 if not")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        status = _get(client, "sys/seal-status")
        pending = bool(status.get("migration"))
        if args.status:
            if ctx.format != "table":
                ctx.env.out(dump({"migration": pending, "sealed": status.get("sealed"),
                                  "type": status.get("type")}, ctx.format))
            else:
                ctx.env.out(f"A seal migration from {status.get('type')} is pending" if pending
                            else "No seal migration is pending")
            return Exit.OK if pending else Exit.SEALED
        if not pending:
            raise CommandFailed(
                "Error: no seal migration is pending. Change the server's configuration to the new seal, keep "
                "the old one marked `disabled: true`, and restart it first (see `sealer operator migrate -help`)"
            )
        source = status.get("type", "")
        threshold = int(status.get("t", 0))
        kind = "recovery" if status.get("recovery_seal") else "unseal"
        ctx.env.err(f"Seal migration from {source}: {threshold} {kind} keys of the {source} seal are needed "
                    f"({status.get('progress', 0)} given so far).")
        keys = [key.strip() for key in args.keys]
        while status.get("sealed"):
            key = keys.pop(0) if keys else _ask(ctx)
            if not key:
                raise CommandFailed(f"Error: no key given; {status.get('progress', 0)} of {threshold} shares are in: "
                                    "run this again to go on, or `sealer operator unseal -reset` to start over")
            try:
                status = client.put("sys/unseal", {"key": key, "migrate": True}) or {}
            except RequestError as exc:
                raise CommandFailed(f"Error during seal migration: {exc}") from None
            if status.get("sealed"):
                ctx.env.err(f"{status.get('progress', 0)} of {threshold} shares")
        return _done(ctx, source, status)


def _get(client: Client, path: str) -> dict[str, Any]:
    try:
        return client.get(path) or {}
    except RequestError as exc:
        raise CommandFailed(f"Error checking seal status: {exc}") from None


def _ask(ctx: Context) -> str:
    try:
        return ctx.env.read_secret("Unseal Key (will be hidden): ").strip()
    except EOFError:
        return ""


def _done(ctx: Context, source: str, status: dict[str, Any]) -> int:
    target = status.get("type", "")
    if ctx.format != "table":
        ctx.env.out(dump({"migrated_from": source, "migrated_to": target, "sealed": status.get("sealed")},
                         ctx.format))
        return Exit.OK
    now = "recovery" if status.get("recovery_seal") else "unseal"
    ctx.env.out(f"Success! Seal migration from {source} to {target} complete.")
    ctx.env.out(f"The shares just entered are now the {now} shares. Remove the disabled {source} block from "
                "the server's configuration (it is ignored from now on).")
    return Exit.OK
