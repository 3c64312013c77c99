"""`sealer audit enable | disable | list | verify`: audit devices through sys/audit, and the offline check of
an audit file's MAC chain."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from pathlib import Path
from typing import Any

from sealer.cli.audit_chain import ChainBroken, device_path, verify
from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.client import RequestError
from sealer.cli.kvdata import DataError, parse_kv
from sealer.cli.output import dump, go_value, table


def _mount_path(path: str) -> str:
    return path.strip().strip("/") + "/"


class EnableCommand(Command):
    name = "audit enable"
    summary = "Enables an audit device"
    usage = "audit enable [options] TYPE [CONFIG K=V...]"
    description = (
        "Enables an audit device at a given path: every request and response is then logged\n"
        "to it, with sensitive values HMAC'd, and a request no enabled device can log fails.\n"
        "Types: file (file_path=PATH or stdout, mode), socket (address, socket_type=tcp|udp|unix,\n"
        "write_timeout), syslog (facility, tag). Common: hmac_accessor, log_raw, prefix, format."
    )
    examples = (
        "sealer audit enable file file_path=/var/log/sealer_audit.log",
        "sealer audit enable -path=net socket address=127.0.0.1:9090 socket_type=tcp",
    )

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--description", default="", help="a human-friendly description")
        parser.add_argument("--path", metavar="PATH", help="where to enable the device (default: TYPE)")
        parser.add_argument("--local", action="store_true", help="not replicated (accepted for Vault parity)")
        parser.add_argument("type", metavar="TYPE")
        parser.add_argument("options", nargs="*", default=[], metavar="K=V")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        try:
            options = parse_kv(args.options, ctx.env.stdin)
        except DataError as exc:
            raise CommandFailed(f"Failed to parse K=V configuration: {exc}") from None
        path = _mount_path(args.path or args.type)
        body = {"type": args.type, "description": args.description, "local": args.local,
                "options": {key: str(value) for key, value in options.items()}}
        try:
            ctx.client().put(f"sys/audit/{path}", body)
        except RequestError as exc:
            raise CommandFailed(f"Error enabling audit device: {exc}") from None
        ctx.env.out(f"Success! Enabled the {args.type} audit device at: {path}")
        return Exit.OK


class DisableCommand(Command):
    name = "audit disable"
    summary = "Disables an audit device"
    usage = "audit disable [options] PATH"
    description = "Disables the audit device at PATH. Lines already written stay where they are."
    examples = ("sealer audit disable file/",)

    def configure(self, parser: Parser) -> None:
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        path = _mount_path(args.path)
        try:
            ctx.client().delete(f"sys/audit/{path}")
        except RequestError as exc:
            raise CommandFailed(f"Error disabling audit device: {exc}") from None
        ctx.env.out(f"Success! Disabled audit device (if it was enabled) at: {path}")
        return Exit.OK


def _devices(answer: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    body = (answer or {}).get("data") or answer or {}
    return {path: entry for path, entry in body.items() if isinstance(entry, dict) and "type" in entry}


class ListCommand(Command):
    name = "audit list"
    summary = "Lists enabled audit devices"
    usage = "audit list [options]"
    description = "Lists the enabled audit devices, with their options when -detailed."
    examples = ("sealer audit list", "sealer audit list -detailed")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--detailed", action="store_true", help="print the options and replication too")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        try:
            devices = _devices(ctx.client().get("sys/audit"))
        except RequestError as exc:
            raise CommandFailed(f"Error listing audits: {exc}") from None
        if ctx.format != "table":
            ctx.env.out(dump(devices, ctx.format))
            return Exit.OK
        if not devices:
            # As Vault: on stdout, and exit code 2.
            ctx.env.out("No audit devices are enabled.")
            return Exit.USAGE
        if args.detailed:
            rows = [(path, d["type"], d.get("description") or "",
                     "local" if d.get("local") else "replicated", go_value(d.get("options") or {}))
                    for path, d in sorted(devices.items())]
            ctx.env.out(table(("Path", "Type", "Description", "Replication", "Options"), rows))
        else:
            rows = [(path, d["type"], d.get("description") or "") for path, d in sorted(devices.items())]
            ctx.env.out(table(("Path", "Type", "Description"), rows))
        return Exit.OK


def decode_key(text: str) -> bytes:
    """A verification key: the JSON sys/audit/<path>/verification-key answered (whole, or its data),
    or the base64 key alone."""
    text = text.strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            raise ValueError("the key file is not valid JSON") from None
        body = decoded.get("data") or decoded if isinstance(decoded, dict) else {}
        text = str(body.get("key") or "")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not base64") from None
    if not key:
        raise ValueError("the key is empty")
    return key


class VerifyCommand(Command):
    name = "audit verify"
    summary = "Verifies an audit file's MAC chain"
    usage = "audit verify [options] FILE [FILE...]"
    description = (
        "Checks that no line of an audit file was deleted, edited, inserted or reordered, and\n"
        "that its beginning was not cut off. Give rotated files oldest first to check the links\n"
        "between them. The device's verification key comes from -key (the JSON that\n"
        "sys/audit/<path>/verification-key answers, or its base64 key), else from the running\n"
        "server (address and token as for every command). Exit 0 when the chain is intact, 1\n"
        "with the first broken line named. Lines removed from the end cannot be detected."
    )
    examples = (
        "sealer audit verify /var/log/sealer_audit.log",
        "sealer audit verify -key=audit-key.json audit.log.1 audit.log",
    )

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--key", metavar="FILE", help="the exported verification key")
        parser.add_argument("--path", metavar="PATH",
                            help="the device to ask the server for (default: from the file's first line)")
        parser.add_argument("--prefix", default=None,
                            help="the device's prefix option (default: anything before the first '{')")
        parser.add_argument("files", nargs="+", metavar="FILE")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        files: list[tuple[str, bytes]] = []
        for name in args.files:
            try:
                files.append((name, Path(name).read_bytes()))
            except OSError as exc:
                raise CommandFailed(f"Error reading {name}: {exc.strerror or exc}") from None
        key = self._key(args, ctx, files)
        try:
            result = verify(key, files, args.prefix)
        except ChainBroken as exc:
            raise CommandFailed(f"Audit chain broken at {exc.where}: {exc.reason}") from None
        note = " (it continues a chain from an earlier file, not given)" if result.unchecked_link else ""
        ctx.env.out(f"Audit chain intact: {result.lines} lines, sequence {result.first_seq} to "
                    f"{result.last_seq}{note}.")
        return Exit.OK

    def _key(self, args: argparse.Namespace, ctx: Context, files: list[tuple[str, bytes]]) -> bytes:
        if args.key:
            try:
                return decode_key(Path(args.key).read_text(encoding="utf-8"))
            except OSError as exc:
                raise CommandFailed(f"Error reading {args.key}: {exc.strerror or exc}") from None
            except ValueError as exc:
                raise CommandFailed(f"Error in {args.key}: {exc}") from None
        path = args.path or device_path(files[0][1], args.prefix)
        if not path:
            raise CommandFailed(f"Cannot tell which device wrote {files[0][0]}: its first line is not a "
                                "chain-start line. Name it with -path, or give -key.")
        path = _mount_path(path)
        try:
            answer = ctx.client().get(f"sys/audit/{path}verification-key")
        except RequestError as exc:
            raise CommandFailed(f"Error reading the verification key of {path}: {exc}") from None
        try:
            return decode_key(json.dumps(answer or {}))
        except ValueError as exc:
            raise CommandFailed(f"Error in the verification key of {path}: {exc}") from None


GROUP = Group(
    name="audit",
    summary="Interact with audit devices",
    commands={
        "enable": EnableCommand,
        "disable": DisableCommand,
        "list": ListCommand,
        "verify": VerifyCommand,
    },
)
