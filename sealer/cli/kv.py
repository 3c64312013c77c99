"""`sealer kv put | get | patch | delete | undelete | destroy | list | metadata ...`: the key/value
engines, version 1 or 2, with the mount's version detected (kv_target.py) so one command serves both."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser, repeated
from sealer.cli.calls import failing, list_keys, none_if_missing
from sealer.cli.client import ClientError
from sealer.cli.kv_metadata import GROUP as METADATA
from sealer.cli.kv_target import KvTarget, resolve
from sealer.cli.kvdata import DataError, parse_kv
from sealer.cli.output import (
    map_table,
    path_section,
    print_raw_field,
    print_warnings,
    show_data,
    show_list,
    show_secret,
)

KV = Flags.HTTP | Flags.FORMAT | Flags.FIELD


def add_mount(parser: Parser) -> None:
    parser.add_argument("--mount", metavar="PATH",
                        help="the mount; PATH is then the key inside it (default: found from PATH)")


def _data(ctx: Context, pairs: list[str]) -> dict[str, Any]:
    try:
        return parse_kv(pairs, ctx.env.stdin)
    except DataError as exc:
        raise CommandFailed(f"Failed to parse K=V data: {exc}", Exit.USAGE) from None


def _versions(raw: list[str] | None) -> list[int]:
    try:
        return [int(version) for version in repeated(raw)]
    except ValueError:
        raise CommandFailed("-versions takes version numbers, e.g. -versions=1,2", Exit.USAGE) from None


def _print_kv(ctx: Context, target: KvTarget, secret: Mapping[str, Any], *, with_data: bool) -> None:
    """Vault's kv get/put table: for version 2 the secret's path and its version metadata; then the data."""
    print_warnings(ctx, secret)
    body = secret.get("data") or {}
    if target.version == 1:
        map_table(ctx, "Data", body)
        return
    path_section(ctx, "Secret Path", target.api("data"))
    metadata = (body.get("metadata") if with_data else body) or {}
    map_table(ctx, "Metadata", metadata)
    if with_data and body.get("data") is not None:
        ctx.env.out()
        map_table(ctx, "Data", body["data"])


class PutCommand(Command):
    name = "kv put"
    summary = "Set or update data in the KV store"
    usage = "kv put [options] PATH [DATA K=V...]"
    description = (
        "Writes the data at PATH, replacing what was there; on a version 2 mount it becomes a new\n"
        'version. Values: key=value, key=@file, key=- (stdin); a lone "-" reads a JSON object from\n'
        "stdin. -cas=N writes only if the current version is N (0: only if the key is new)."
    )
    examples = ("sealer kv put secret/app/db password=s3cret user=app",
                "sealer kv put -mount=kv2 app/db password=@pw.txt",
                "sealer kv put -cas=1 kv2/app/db password=new")
    flags = KV

    def configure(self, parser: Parser) -> None:
        add_mount(parser)
        parser.add_argument("--cas", type=int, metavar="N", help="check-and-set: the version expected (v2)")
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("data", nargs="*", metavar="K=V")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if not args.data:
            raise CommandFailed("Must supply data", Exit.USAGE)
        data = _data(ctx, args.data)
        target = resolve(ctx, args.path, args.mount)
        body: dict[str, Any] = data
        if target.version == 2:
            body = {"data": data}
            if args.cas is not None:
                body["options"] = {"cas": args.cas}
        elif args.cas is not None:
            raise CommandFailed("-cas needs a version 2 mount")
        path = target.api("data")
        with failing(f"Error writing data to {path}", note=target.unsure):
            secret = ctx.client().put(path, body)
        return _written(ctx, args, target, secret)


def _written(ctx: Context, args: argparse.Namespace, target: KvTarget, secret: dict[str, Any] | None) -> int:
    path = target.api("data")
    if secret is None:
        if ctx.format == "table":
            ctx.env.out(f"Success! Data written to: {path}")
        return Exit.OK
    if args.field:
        return print_raw_field(ctx, secret, args.field)
    if ctx.format != "table" or target.version == 1:
        return show_secret(ctx, secret, None)
    _print_kv(ctx, target, secret, with_data=False)
    return Exit.OK


class PatchCommand(Command):
    name = "kv patch"
    summary = "Set or update data in the KV store without overwriting"
    usage = "kv patch [options] PATH [DATA K=V...]"
    description = (
        "Changes some keys of the latest version at PATH and keeps the others, as a new version\n"
        "(version 2 mounts only). -method=patch sends an HTTP PATCH (a JSON merge patch, the\n"
        "default); -method=rw reads the secret and writes it back merged."
    )
    examples = ("sealer kv patch kv2/app/db password=rotated", "sealer kv patch -cas=2 kv2/app/db ttl=1h")
    flags = KV

    def configure(self, parser: Parser) -> None:
        add_mount(parser)
        parser.add_argument("--cas", type=int, metavar="N", help="check-and-set: the version expected")
        parser.add_argument("--method", choices=("patch", "rw"), default="patch", help="how to patch")
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("data", nargs="*", metavar="K=V")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if not args.data:
            raise CommandFailed("Must supply data", Exit.USAGE)
        data = _data(ctx, args.data)
        target = resolve(ctx, args.path, args.mount)
        target.require_v2("patch")
        path = target.api("data")
        client = ctx.client()
        with failing(f"Error writing data to {path}"):
            if args.method == "rw":
                try:
                    current = client.get(path) or {}
                except ClientError as exc:
                    none_if_missing(exc)
                    current = {}
                existing = (current.get("data") or {}).get("data")
                if existing is None:
                    raise CommandFailed(f"No value found at {path}")
                version = ((current.get("data") or {}).get("metadata") or {}).get("version")
                cas = args.cas if args.cas is not None else version
                secret = client.put(path, {"data": {**existing, **data}, "options": {"cas": cas}})
            else:
                body: dict[str, Any] = {"data": data}
                if args.cas is not None:
                    body["options"] = {"cas": args.cas}
                secret = client.patch(path, body)
        return _written(ctx, args, target, secret)


class GetCommand(Command):
    name = "kv get"
    summary = "Retrieve data"
    usage = "kv get [options] PATH"
    description = (
        "Prints the data at PATH; on a version 2 mount, the latest version (or -version=N) with\n"
        "its metadata. -field=NAME prints one value raw, for scripts."
    )
    examples = ("sealer kv get secret/app/db", "sealer kv get -version=1 kv2/app/db",
                "PASSWORD=$(sealer kv get -field=password kv2/app/db)")
    flags = KV

    def configure(self, parser: Parser) -> None:
        add_mount(parser)
        parser.add_argument("--version", type=int, metavar="N", help="the version to read (v2)")
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        target = resolve(ctx, args.path, args.mount)
        path = target.api("data")
        params = None
        if args.version is not None:
            if target.version != 2:
                raise CommandFailed("-version needs a version 2 mount")
            params = {"version": str(args.version)}
        with failing(f"Error reading {path}", note=target.unsure):
            try:
                secret = ctx.client().get(path, params)
            except ClientError as exc:
                none_if_missing(exc)
                secret = None
        if secret is None or (target.version == 2 and (secret.get("data") or {}).get("data") is None):
            raise CommandFailed(f"No value found at {path}{target.unsure}")
        if args.field:
            if target.version == 2:
                return show_data(ctx, secret["data"]["data"], args.field)
            return print_raw_field(ctx, secret, args.field)
        if ctx.format != "table":
            return show_secret(ctx, secret, None)
        _print_kv(ctx, target, secret, with_data=True)
        return Exit.OK


class DeleteCommand(Command):
    name = "kv delete"
    summary = "Delete versions of secrets stored in K/V"
    usage = "kv delete [options] PATH"
    description = (
        "Deletes the data at PATH. On a version 2 mount this is a soft delete of the latest version\n"
        "(or of -versions=...), which `kv undelete` reverses; `kv destroy` removes data for good."
    )
    examples = ("sealer kv delete secret/app/db", "sealer kv delete -versions=1,2 kv2/app/db")
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        add_mount(parser)
        parser.add_argument("--versions", action="append", metavar="N,...", help="versions to delete (v2)")
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        target = resolve(ctx, args.path, args.mount)
        versions = _versions(args.versions)
        client = ctx.client()
        if versions:
            target.require_v2("-versions")
            path = target.api("delete")
            with failing(f"Error deleting {path}"):
                client.post(path, {"versions": versions})
        else:
            path = target.api("data")
            with failing(f"Error deleting {path}"):
                client.delete(path)
        ctx.env.out(f"Success! Data deleted (if it existed) at: {path}")
        return Exit.OK


class _VersionsCommand(Command):
    section: ClassVar[str]  # the v2 API section: undelete, destroy
    verb: ClassVar[str]
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        add_mount(parser)
        parser.add_argument("--versions", action="append", metavar="N,...", required=True,
                            help="the versions, comma-separated or repeated")
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        versions = _versions(args.versions)
        if not versions:
            raise CommandFailed("No versions provided, use the \"-versions\" flag", Exit.USAGE)
        target = resolve(ctx, args.path, args.mount)
        target.require_v2(self.verb)
        path = target.api(self.section)
        with failing(f"Error writing data to {path}"):
            ctx.client().put(path, {"versions": versions})
        ctx.env.out(f"Success! Data written to: {path}")
        return Exit.OK


class UndeleteCommand(_VersionsCommand):
    name = "kv undelete"
    summary = "Undelete versions of secrets stored in K/V"
    usage = "kv undelete [options] -versions=N,... PATH"
    description = "Restores soft-deleted versions of the data at PATH (version 2 mounts)."
    examples = ("sealer kv undelete -versions=3 kv2/app/db",)
    section = "undelete"
    verb = "undelete"


class DestroyCommand(_VersionsCommand):
    name = "kv destroy"
    summary = "Permanently remove one or more versions of secrets in K/V"
    usage = "kv destroy [options] -versions=N,... PATH"
    description = "Removes the data of the given versions at PATH for good (version 2 mounts)."
    examples = ("sealer kv destroy -versions=1,2 kv2/app/db",)
    section = "destroy"
    verb = "destroy"


class ListCommand(Command):
    name = "kv list"
    summary = "List data or secrets"
    usage = "kv list [options] PATH"
    description = "Lists the keys below PATH; folders end in '/'."
    examples = ("sealer kv list secret/", "sealer kv list -format=json kv2/app")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        add_mount(parser)
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        target = resolve(ctx, args.path, args.mount)
        path = target.api("metadata").rstrip("/") + "/"
        secret, keys = list_keys(ctx, path, note=target.unsure)
        print_warnings(ctx, secret)
        return show_list(ctx, sorted(keys, key=str) if ctx.format == "table" else keys)


GROUP = Group(
    name="kv",
    summary="Interact with Sealer's Key-Value storage",
    commands={"put": PutCommand, "get": GetCommand, "patch": PatchCommand, "delete": DeleteCommand,
              "undelete": UndeleteCommand, "destroy": DestroyCommand, "list": ListCommand, "metadata": METADATA},
)
