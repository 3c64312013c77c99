"""`sealer kv metadata get | put | delete`: the metadata of a key on a version 2 mount (max versions,
check-and-set, automatic deletion, custom metadata, and every version's times)."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.calls import failing, none_if_missing
from sealer.cli.client import ClientError
from sealer.cli.kv_target import resolve
from sealer.cli.kvdata import DataError, parse_flag_pairs
from sealer.cli.output import map_table, path_section, show_data, show_secret


def _mount_flag(parser: Parser) -> None:
    parser.add_argument("--mount", metavar="PATH",
                        help="the mount; PATH is then the key inside it (default: found from PATH)")


class GetCommand(Command):
    name = "kv metadata get"
    summary = "Retrieve the metadata of a key"
    usage = "kv metadata get [options] PATH"
    description = "Prints the key's settings and, for every version, when it was created, deleted or destroyed."
    examples = ("sealer kv metadata get kv2/app/db", "sealer kv metadata get -field=current_version kv2/app/db")
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        _mount_flag(parser)
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        target = resolve(ctx, args.path, args.mount)
        target.require_v2("metadata")
        path = target.api("metadata")
        with failing(f"Error reading {path}"):
            try:
                secret = ctx.client().get(path)
            except ClientError as exc:
                none_if_missing(exc)
                secret = None
        if not secret:
            raise CommandFailed(f"No value found at {path}")
        data = dict(secret.get("data") or {})
        if args.field:
            return show_data(ctx, data, args.field)
        if ctx.format != "table":
            return show_secret(ctx, secret, None)
        versions = data.pop("versions", None) or {}
        path_section(ctx, "Metadata Path", path)
        map_table(ctx, "Metadata", data)
        for version in sorted(versions, key=lambda v: int(v) if str(v).isdigit() else 0):
            ctx.env.out()
            map_table(ctx, f"Version {version}", versions[version] or {})
        return Exit.OK


class PutCommand(Command):
    name = "kv metadata put"
    summary = "Set or update the metadata of a key"
    usage = "kv metadata put [options] PATH"
    description = (
        "Changes the key's settings: -max-versions (0: the mount's), -cas-required,\n"
        "-delete-version-after (a duration; 0s: never) and -custom-metadata=K=V (repeatable)."
    )
    examples = ("sealer kv metadata put -max-versions=5 -cas-required kv2/app/db",
                "sealer kv metadata put -custom-metadata=owner=team-a kv2/app/db")
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        _mount_flag(parser)
        parser.add_argument("--max-versions", type=int, metavar="N", help="versions kept (0: the mount's setting)")
        parser.add_bool("--cas-required", help="every write must give -cas")
        parser.add_argument("--delete-version-after", metavar="DURATION", help="delete versions this long after")
        parser.add_argument("--custom-metadata", action="append", metavar="K=V", help="repeat for several")
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        body: dict[str, Any] = {}
        if args.max_versions is not None:
            body["max_versions"] = args.max_versions
        if args.cas_required:
            body["cas_required"] = True
        if args.delete_version_after is not None:
            body["delete_version_after"] = args.delete_version_after
        if args.custom_metadata:
            try:
                body["custom_metadata"] = parse_flag_pairs(args.custom_metadata, "custom-metadata")
            except DataError as exc:
                raise CommandFailed(f"Error parsing -custom-metadata: {exc}", Exit.USAGE) from None
        target = resolve(ctx, args.path, args.mount)
        target.require_v2("metadata")
        path = target.api("metadata")
        with failing(f"Error writing data to {path}"):
            ctx.client().post(path, body)
        ctx.env.out(f"Success! Data written to: {path}")
        return Exit.OK


class DeleteCommand(Command):
    name = "kv metadata delete"
    summary = "Delete a key and all its versions"
    usage = "kv metadata delete [options] PATH"
    description = "Deletes the key's metadata and every version of its data, for good."
    examples = ("sealer kv metadata delete kv2/app/db",)
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        _mount_flag(parser)
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        target = resolve(ctx, args.path, args.mount)
        target.require_v2("metadata")
        path = target.api("metadata")
        with failing(f"Error deleting {path}"):
            ctx.client().delete(path)
        ctx.env.out(f"Success! Data deleted (if it existed) at: {path}")
        return Exit.OK


GROUP = Group(
    name="kv metadata",
    summary="Interact with K/V secret metadata",
    commands={"get": GetCommand, "put": PutCommand, "delete": DeleteCommand},
)
