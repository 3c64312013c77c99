"""`sealer policy write | read | list | delete | fmt`: ACL policies through sys/policies/acl."""

from __future__ import annotations

import argparse
from pathlib import Path

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.calls import failing
from sealer.cli.client import ClientError
from sealer.cli.output import dump, show_list


def _name(raw: str) -> str:
    name = raw.strip().lower()  # Vault stores policy names lowercased
    if not name:
        raise CommandFailed("a policy name is required", Exit.USAGE)
    return name


class WriteCommand(Command):
    name = "policy write"
    summary = "Upload a policy"
    usage = "policy write [options] NAME PATH"
    description = (
        'Uploads a policy (HCL or JSON) under NAME from the file at PATH, or from stdin if PATH\n'
        'is "-". An existing policy of that name is replaced.'
    )
    examples = ("sealer policy write app ./app.hcl",
                "cat app.hcl | sealer policy write app -")

    def configure(self, parser: Parser) -> None:
        parser.add_argument("policy_name", metavar="NAME")
        parser.add_argument("source", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        name = _name(args.policy_name)
        if args.source == "-":
            text = ctx.env.stdin.read()
        else:
            try:
                text = Path(args.source).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandFailed(f"Error opening policy file: {exc.strerror or exc}: {args.source}") from None
        with failing("Error uploading policy"):
            ctx.client().put(f"sys/policies/acl/{name}", {"policy": text})
        ctx.env.out(f"Success! Uploaded policy: {name}")
        return Exit.OK


class ReadCommand(Command):
    name = "policy read"
    summary = "Print the contents of a policy"
    usage = "policy read [options] NAME"
    description = "Prints the text of the policy named NAME, as it was uploaded."
    examples = ("sealer policy read app", "sealer policy read -format=json app")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("policy_name", metavar="NAME")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        name = _name(args.policy_name)
        with failing(f"Error reading policy named {name}"):
            try:
                answer = ctx.client().get(f"sys/policies/acl/{name}") or {}
            except ClientError as exc:
                if exc.status == 404:
                    raise CommandFailed(f"No policy named: {name}") from None
                raise
        data = answer.get("data") or answer
        text = str(data.get("policy", ""))
        if ctx.format != "table":
            ctx.env.out(dump({"name": data.get("name", name), "policy": text}, ctx.format))
        else:
            ctx.env.stdout.write(text if text.endswith("\n") else text + "\n")
        return Exit.OK


class ListCommand(Command):
    name = "policy list"
    summary = "List the names of the installed policies"
    usage = "policy list [options]"
    description = "Lists the names of the ACL policies, one per line."
    examples = ("sealer policy list",)
    flags = Flags.HTTP | Flags.FORMAT

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        with failing("Error listing policies"):
            answer = ctx.client().list("sys/policies/acl") or {}
        keys = sorted(str(key) for key in ((answer.get("data") or {}).get("keys") or []))
        if ctx.format != "table":
            return show_list(ctx, keys)
        for key in keys:
            ctx.env.out(key)
        return Exit.OK


class DeleteCommand(Command):
    name = "policy delete"
    summary = "Delete a policy by name"
    usage = "policy delete [options] NAME"
    description = "Deletes the policy named NAME. Tokens that name it keep the name but lose its rules."
    examples = ("sealer policy delete app",)

    def configure(self, parser: Parser) -> None:
        parser.add_argument("policy_name", metavar="NAME")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        name = _name(args.policy_name)
        with failing(f"Error deleting {name}"):
            ctx.client().delete(f"sys/policies/acl/{name}")
        ctx.env.out(f"Success! Deleted policy: {name}")
        return Exit.OK


class FmtCommand(Command):
    name = "policy fmt"
    summary = "Format a policy file to the policy specification"
    usage = "policy fmt [options] PATH"
    description = (
        "Checks the HCL policy in the local file PATH and rewrites it in place in the canonical\n"
        "layout (two-space indents, aligned '='). Comments are kept. A policy that does not parse\n"
        "is reported and the file is left as it was. Needs no server."
    )
    examples = ("sealer policy fmt ./app.hcl",)
    flags = Flags.NONE

    def configure(self, parser: Parser) -> None:
        parser.add_argument("source", metavar="PATH")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from sealer.cli.policy_fmt import FormatError, format_policy  # loads the engine's policy parser

        path = Path(args.source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandFailed(f"Error opening policy file: {exc.strerror or exc}: {path}") from None
        try:
            formatted = format_policy(text)
        except FormatError as exc:
            raise CommandFailed(f"Error formatting policy {path}: {exc}") from None
        if formatted != text:
            try:
                path.write_text(formatted, encoding="utf-8")
            except OSError as exc:
                raise CommandFailed(f"Error writing {path}: {exc.strerror or exc}") from None
        ctx.env.out(f"Success! Formatted policy: {path}")
        return Exit.OK


GROUP = Group(
    name="policy",
    summary="Interact with policies",
    commands={"write": WriteCommand, "read": ReadCommand, "list": ListCommand, "delete": DeleteCommand,
              "fmt": FmtCommand},
)
