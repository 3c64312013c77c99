"""`sealer secrets ...` and `sealer auth ...` share this: enable, disable, list and tune a mount through
sys/mounts or sys/auth. Each command class here is written once and given a `Kind` by a subclass."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, ClassVar

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser, repeated
from sealer.cli.calls import failing, mount_path
from sealer.cli.kvdata import DataError, parse_flag_pairs
from sealer.cli.output import dump, go_value, human_duration, table


@dataclass(frozen=True)
class Kind:
    api: str   # "sys/mounts" or "sys/auth"
    noun: str  # "secrets engine" or "auth method"
    auth: bool


SECRETS = Kind("sys/mounts", "secrets engine", auth=False)
AUTH = Kind("sys/auth", "auth method", auth=True)

# Flags whose values are lists in the mount's config (Vault's flags take them repeated).
_LIST_SETTINGS = ("audit_non_hmac_request_keys", "audit_non_hmac_response_keys",
                  "passthrough_request_headers", "allowed_response_headers")


def _add_settings(parser: Parser, kind: Kind) -> None:
    parser.add_argument("--description", metavar="TEXT", help="a human-friendly description")
    parser.add_argument("--default-lease-ttl", metavar="DURATION",
                        help='default lease TTL ("system" for the system default)')
    parser.add_argument("--max-lease-ttl", metavar="DURATION", help='maximum lease TTL ("system" for the default)')
    for name in _LIST_SETTINGS:
        parser.add_argument("--" + name.replace("_", "-"), action="append", metavar="KEY",
                            help=f"{name.replace('_', ' ')}; repeat for several")
    parser.add_argument("--listing-visibility", choices=("unauth", "hidden"),
                        help="whether the mount shows in the UI's unauthenticated listing")
    parser.add_argument("--options", action="append", metavar="K=V",
                        help="a mount option (e.g. version=2 for kv); repeat for several")
    if kind.auth:
        parser.add_argument("--token-type", choices=("default-service", "default-batch", "service", "batch"),
                            help="the type of token logins at this mount get")


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    config: dict[str, Any] = {}
    for name in ("default_lease_ttl", "max_lease_ttl", "listing_visibility", "token_type"):
        value = getattr(args, name, None)
        if value is not None:
            config[name] = value
    for name in _LIST_SETTINGS:
        values = repeated(getattr(args, name))
        if values:
            config[name] = values
    try:
        options = parse_flag_pairs(args.options, "options")
    except DataError as exc:
        raise CommandFailed(f"Error parsing -options: {exc}", Exit.USAGE) from None
    return config, options


class EnableBase(Command):
    kind: ClassVar[Kind]

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--path", metavar="PATH", help="where to mount it (default: TYPE)")
        _add_settings(parser, self.kind)
        parser.add_bool("--local", help="not replicated (accepted for Vault parity)")
        parser.add_bool("--seal-wrap", help="seal-wrap the mount's critical values")
        if not self.kind.auth:
            parser.add_bool("--force-no-cache", help="never cache this mount's data")
            parser.add_bool("--external-entropy-access", help="accepted for Vault parity")
            parser.add_argument("--version", type=int, metavar="N", help="for kv: 1 or 2 (same as -options=version=N)")
        parser.add_argument("--plugin-name", metavar="NAME", help="accepted for Vault parity: the TYPE")
        parser.add_argument("type", metavar="TYPE")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        config, options = _settings(args)
        if getattr(args, "force_no_cache", False):
            config["force_no_cache"] = True
        if getattr(args, "version", None) is not None:
            options["version"] = str(args.version)
        path = mount_path(args.path or args.type)
        body: dict[str, Any] = {"type": args.plugin_name or args.type, "description": args.description or "",
                                "config": config, "local": args.local, "seal_wrap": args.seal_wrap}
        if options:
            body["options"] = options
        if getattr(args, "external_entropy_access", False):
            body["external_entropy_access"] = True
        with failing(f"Error enabling {args.type} {self.kind.noun}"):
            ctx.client().post(f"{self.kind.api}/{path}", body)
        if self.kind.auth:
            ctx.env.out(f"Success! Enabled {args.type} auth method at: {path}")
        else:
            ctx.env.out(f"Success! Enabled the {args.type} secrets engine at: {path}")
        return Exit.OK


class DisableBase(Command):
    kind: ClassVar[Kind]

    def configure(self, parser: Parser) -> None:
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        path = mount_path(args.path)
        with failing(f"Error disabling {self.kind.noun} at {path}"):
            ctx.client().delete(f"{self.kind.api}/{path}")
        ctx.env.out(f"Success! Disabled the {self.kind.noun} (if it existed) at: {path}")
        return Exit.OK


def _ttl(value: object) -> str:
    return human_duration(value) if isinstance(value, int) and value else "system"


class ListBase(Command):
    kind: ClassVar[Kind]
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_bool("--detailed", help="print TTLs, options, replication and more")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        with failing(f"Error listing {self.kind.noun}s"):
            answer = ctx.client().get(self.kind.api) or {}
        body = answer.get("data") or answer
        mounts = {path: entry for path, entry in body.items() if isinstance(entry, dict) and "type" in entry}
        if ctx.format != "table":
            ctx.env.out(dump(mounts, ctx.format))
            return Exit.OK
        ordered = sorted(mounts.items())
        if not args.detailed:
            ctx.env.out(table(("Path", "Type", "Accessor", "Description"),
                              [(p, m["type"], m.get("accessor") or "", m.get("description") or "")
                               for p, m in ordered]))
            return Exit.OK
        rows = []
        for path, mount in ordered:
            config = mount.get("config") or {}
            rows.append((path, mount["type"], mount.get("accessor") or "", _ttl(config.get("default_lease_ttl")),
                         _ttl(config.get("max_lease_ttl")),
                         *(() if self.kind.auth else (go_value(bool(config.get("force_no_cache"))),)),
                         "local" if mount.get("local") else "replicated", go_value(bool(mount.get("seal_wrap"))),
                         go_value(mount.get("options") or {}), mount.get("description") or "", mount.get("uuid", "")))
        header = ("Path", "Plugin", "Accessor", "Default TTL", "Max TTL",
                  *(() if self.kind.auth else ("Force No Cache",)), "Replication", "Seal Wrap", "Options",
                  "Description", "UUID")
        ctx.env.out(table(header, rows))
        return Exit.OK


class TuneBase(Command):
    kind: ClassVar[Kind]

    def configure(self, parser: Parser) -> None:
        _add_settings(parser, self.kind)
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        config, options = _settings(args)
        body: dict[str, Any] = dict(config)
        if args.description is not None:
            body["description"] = args.description
        if options:
            body["options"] = options
        if not body:
            raise CommandFailed("nothing to tune: give at least one setting flag", Exit.USAGE)
        path = mount_path(args.path)
        with failing(f"Error tuning {self.kind.noun} {path}"):
            ctx.client().post(f"{self.kind.api}/{path}tune", body)
        ctx.env.out(f"Success! Tuned the {self.kind.noun} at: {path}")
        return Exit.OK
