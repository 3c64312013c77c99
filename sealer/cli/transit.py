"""`sealer transit create | list | rotate | encrypt | decrypt`: the transit engine without the base64 and the
JSON by hand. encrypt takes the plaintext as it is and prints the ciphertext; decrypt prints the plaintext.
(Vault's CLI has no such helpers; `sealer write transit/encrypt/KEY plaintext=$(base64 ...)` works too.)"""

from __future__ import annotations

import argparse
import base64
import binascii
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.calls import failing, mount_path
from sealer.cli.output import dump, print_raw, show_list

_MOUNT_HELP = "mount path of the transit engine (default: transit)"


def _common(parser: Parser) -> None:
    parser.add_argument("--mount", default="transit", metavar="PATH", help=_MOUNT_HELP)
    parser.add_argument("key", metavar="KEY")


def _input(ctx: Context, value: str | None) -> str:
    """The argument, or all of stdin when it is "-" or missing (so secrets stay out of shell history)."""
    if value is None or value == "-":
        return ctx.env.stdin.read()
    return value


class CreateCommand(Command):
    name = "transit create"
    summary = "Create a named encryption key"
    usage = "transit create [options] KEY"
    description = "Creates a transit key (transit/keys/KEY) of -type (default aes256-gcm96)."
    examples = ("sealer transit create orders", "sealer transit create -type=ecdsa-p256 signer")
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--type", default="aes256-gcm96", metavar="TYPE",
                            help="aes256-gcm96, chacha20-poly1305, ecdsa-p256, hsm-aes256-gcm96, ...")
        parser.add_bool("--exportable", help="the key may be exported")
        _common(parser)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        path = f"{mount_path(args.mount)}keys/{args.key}"
        body: dict[str, Any] = {"type": args.type}
        if args.exportable:
            body["exportable"] = True
        with failing(f"Error creating key {args.key}"):
            ctx.client().post(path, body)
        ctx.env.out(f"Success! Created key: {args.key}")
        return Exit.OK


class ListCommand(Command):
    name = "transit list"
    summary = "List the named keys"
    usage = "transit list [options]"
    description = "Lists the keys of the transit engine."
    examples = ("sealer transit list",)
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--mount", default="transit", metavar="PATH", help=_MOUNT_HELP)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        with failing("Error listing keys"):
            answer = ctx.client().list(f"{mount_path(args.mount)}keys") or {}
        return show_list(ctx, sorted((answer.get("data") or {}).get("keys") or []))


class RotateCommand(Command):
    name = "transit rotate"
    summary = "Rotate a named key"
    usage = "transit rotate [options] KEY"
    description = "Adds a new version of KEY; new encryptions use it, older ciphertexts still decrypt."
    examples = ("sealer transit rotate orders",)
    flags = Flags.HTTP

    def configure(self, parser: Parser) -> None:
        _common(parser)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        with failing(f"Error rotating key {args.key}"):
            ctx.client().post(f"{mount_path(args.mount)}keys/{args.key}/rotate")
        ctx.env.out(f"Success! Rotated key: {args.key}")
        return Exit.OK


class EncryptCommand(Command):
    name = "transit encrypt"
    summary = "Encrypt plaintext with a named key"
    usage = "transit encrypt [options] KEY [PLAINTEXT | -]"
    description = (
        "Encrypts PLAINTEXT (or stdin, when it is \"-\" or missing) with KEY and prints the\n"
        "ciphertext (vault:vN:...). The plaintext is base64-encoded for you. The key is created\n"
        "on first use if the token may."
    )
    examples = ("sealer transit encrypt orders 'card 4111'", "cat file | sealer transit encrypt orders",
                "sealer transit encrypt -format=json orders hello")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--context", metavar="BASE64", help="key derivation context (derived keys)")
        _common(parser)
        parser.add_argument("plaintext", nargs="?", metavar="PLAINTEXT")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        text = _input(ctx, args.plaintext)
        body: dict[str, Any] = {"plaintext": base64.b64encode(text.encode("utf-8")).decode()}
        if args.context:
            body["context"] = args.context
        with failing(f"Error encrypting with key {args.key}"):
            secret = ctx.client().post(f"{mount_path(args.mount)}encrypt/{args.key}", body) or {}
        if ctx.format != "table":
            ctx.env.out(dump(secret, ctx.format))
            return Exit.OK
        ctx.env.out(str((secret.get("data") or {}).get("ciphertext", "")))
        return Exit.OK


class DecryptCommand(Command):
    name = "transit decrypt"
    summary = "Decrypt a ciphertext with a named key"
    usage = "transit decrypt [options] KEY [CIPHERTEXT | -]"
    description = (
        "Decrypts CIPHERTEXT (vault:vN:..., or stdin) with KEY and prints the plaintext, decoded\n"
        "from base64 (no newline added when piped, so the bytes come out as they went in)."
    )
    examples = ("sealer transit decrypt orders vault:v1:8SDd3WHDOjf7mq69...",
                "sealer transit decrypt orders - < ciphertext.txt")
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--context", metavar="BASE64", help="key derivation context (derived keys)")
        _common(parser)
        parser.add_argument("ciphertext", nargs="?", metavar="CIPHERTEXT")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        body: dict[str, Any] = {"ciphertext": _input(ctx, args.ciphertext).strip()}
        if args.context:
            body["context"] = args.context
        with failing(f"Error decrypting with key {args.key}"):
            secret = ctx.client().post(f"{mount_path(args.mount)}decrypt/{args.key}", body) or {}
        if ctx.format != "table":
            ctx.env.out(dump(secret, ctx.format))
            return Exit.OK
        encoded = str((secret.get("data") or {}).get("plaintext", ""))
        try:
            plaintext = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise CommandFailed("the plaintext is not UTF-8 text: use -format=json for its base64") from None
        print_raw(ctx, plaintext)
        return Exit.OK


GROUP = Group(
    name="transit",
    summary="Encrypt and decrypt with the transit engine",
    commands={"create": CreateCommand, "list": ListCommand, "rotate": RotateCommand, "encrypt": EncryptCommand,
              "decrypt": DecryptCommand},
)
