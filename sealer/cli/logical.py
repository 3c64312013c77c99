"""The generic path commands: `sealer read | write | list | delete PATH`, for any mount (KV v1 today)."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.calls import failing, list_keys, none_if_missing
from sealer.cli.client import ClientError
from sealer.cli.kvdata import DataError, parse_kv
from sealer.cli.output import dump, output_secret, print_raw_field, print_warnings, table


def sanitize_path(path: str) -> str:
    return path.strip().strip("/")


def _data_args(ctx: Context, args: list[str]) -> dict[str, Any]:
    try:
        return parse_kv(args, ctx.env.stdin)
    except DataError as exc:
        raise CommandFailed(f"Failed to parse K=V data: {exc}") from None


class ReadCommand(Command):
    name = "read"
    summary = "Read data and retrieve secrets"
    usage = "read [options] PATH [K=V...]"
    description = (
        "Reads data from the server at the given path. Any K=V arguments are sent as query\n"
        "parameters."
    )
    examples = ("sealer read secret/my-secret", "sealer read -field=password secret/db")
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("data", nargs="*", default=[], metavar="K=V")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        path = sanitize_path(args.path)
        params = {k: str(v) for k, v in _data_args(ctx, args.data).items()}
        with failing(f"Error reading {path}"):
            try:
                secret = ctx.client().get(path, params or None)
            except ClientError as exc:
                none_if_missing(exc)
                secret = None
        if secret is None:
            raise CommandFailed(f"No value found at {path}")
        if args.field:
            return print_raw_field(ctx, secret, args.field)
        return output_secret(ctx, secret)


class WriteCommand(Command):
    name = "write"
    summary = "Write data, configuration, and secrets"
    usage = "write [options] PATH [DATA K=V...]"
    description = (
        'Writes data at the given path. Data is given as "key=value" pairs. A value that\n'
        'begins with "@" is read from that file; a value of "-" is read from stdin; a lone\n'
        '"-" reads a JSON object of pairs from stdin.'
    )
    examples = (
        "sealer write secret/my-secret foo=bar",
        "sealer write secret/tls cert=@server.pem",
        'echo \'{"password": "s3cret"}\' | sealer write secret/db -',
    )
    flags = Flags.HTTP | Flags.FORMAT | Flags.FIELD

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--force", "-f", action="store_true",
                            help="write even with no key=value pairs")
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("data", nargs="*", default=[], metavar="K=V")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if not args.data and not args.force:
            raise CommandFailed("Must supply data or use -force", Exit.USAGE)
        path = sanitize_path(args.path)
        data = _data_args(ctx, args.data)
        with failing(f"Error writing data to {path}"):
            secret = ctx.client().put(path, data)
        if secret is None:
            if ctx.format == "table":
                ctx.env.out(f"Success! Data written to: {path}")
            return Exit.OK
        if args.field:
            return print_raw_field(ctx, secret, args.field)
        return output_secret(ctx, secret)


class ListCommand(Command):
    name = "list"
    summary = "List data or secrets"
    usage = "list [options] PATH"
    description = "Lists the names stored below the given path; folders end in '/'."
    examples = ("sealer list secret/", "sealer list -format=json secret/apps")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        path = sanitize_path(args.path) + "/"
        secret, keys = list_keys(ctx, path)
        if ctx.format != "table":
            ctx.env.out(dump(keys, ctx.format))
            return Exit.OK
        print_warnings(ctx, secret)
        ctx.env.out(table(("Keys",), [(str(key),) for key in sorted(keys, key=str)]))
        return Exit.OK


class DeleteCommand(Command):
    name = "delete"
    summary = "Delete secrets and configuration"
    usage = "delete [options] PATH"
    description = "Deletes the data at the given path. Deleting what does not exist is not an error."
    examples = ("sealer delete secret/my-secret",)
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        parser.add_argument("path", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        path = sanitize_path(args.path)
        with failing(f"Error deleting {path}"):
            ctx.client().delete(path)
        ctx.env.out(f"Success! Data deleted (if it existed) at: {path}")
        return Exit.OK
