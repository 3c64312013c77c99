"""`sealer operator rotate-hsm-key`: re-wrap the root key under another key of a token (or another token
on the same PKCS#11 library and PIN), through PUT sys/sealer/seal/rewrap; -status and -abort for a
rotation a crash left staged."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.client import RequestError
from sealer.cli.output import columns, dump


class RotateHsmKeyCommand(Command):
    name = "operator rotate-hsm-key"
    summary = "Re-wrap the root key under a new HSM key"
    usage = "operator rotate-hsm-key -key-label=LABEL [options]"
    description = (
        "Wraps the root key under another key of the token (-key-label, -hmac-key-label) or of\n"
        "another token on the same library and PIN (-token-label), reads the new wrapping back,\n"
        "and only then retires the old one, in one atomic step. The data is not touched. Until\n"
        "the commit the old key stays in force, so a crash at any point leaves a server that\n"
        "unseals. With several tokens, -token names the one to rotate.\n\n"
        "Afterwards update the token's key labels in the server's configuration (the command\n"
        "prints the lines); until then the server follows its stored record to the new key and\n"
        "warns at each start. Destroy the old key on the token only after that. Needs a root token."
    )
    examples = (
        "sealer operator rotate-hsm-key -key-label=sealer-root-wrap-2025",
        "sealer operator rotate-hsm-key -token=backup-hsm -key-label=wrap-2 -hmac-key-label=hmac-2",
        "sealer operator rotate-hsm-key -status",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--key-label", metavar="LABEL", help="the AES-256 key to wrap the root key under")
        parser.add_argument("--hmac-key-label", metavar="LABEL", help="the HMAC key (default: the one in use)")
        parser.add_argument("--token", metavar="NAME", help="which configured token (when there are several)")
        parser.add_argument("--token-label", metavar="LABEL",
                            help="move the wrapping to this token (same library and PIN)")
        parser.add_argument("--generate-key", action="store_true", default=None,
                            help="create the keys on the token if they do not exist")
        parser.add_argument("--status", action="store_true", help="show a rotation a crash left staged")
        parser.add_argument("--abort", action="store_true", help="drop a staged rotation (the old key stays)")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        try:
            if args.status:
                return _show(ctx, client.get("sys/sealer/seal/rewrap") or {})
            if args.abort:
                return _show(ctx, client.request("DELETE", "sys/sealer/seal/rewrap") or {})
            if not args.key_label:
                raise CommandFailed("Error: -key-label is required", Exit.USAGE)
            body: dict[str, Any] = {"key_label": args.key_label}
            for name in ("hmac_key_label", "token", "token_label", "generate_key"):
                if getattr(args, name) is not None:
                    body[name] = getattr(args, name)
            result = client.put("sys/sealer/seal/rewrap", body) or {}
        except RequestError as exc:
            raise CommandFailed(f"Error rotating the HSM key: {exc}") from None
        if ctx.format != "table":
            ctx.env.out(dump(result, ctx.format))
            return Exit.OK
        ctx.env.out(f"Success! The root key of token {result.get('token')} is now wrapped under key "
                    f"'{result.get('key_label')}'.")
        ctx.env.out("")
        ctx.env.out(result.get("config_update", ""))
        return Exit.OK


def _show(ctx: Context, body: dict[str, Any]) -> int:
    if ctx.format != "table":
        ctx.env.out(dump(body, ctx.format))
    else:
        rows = [("Key", "Value"), ("---", "-----")]
        rows += [(key, str(value)) for key, value in body.items()]
        ctx.env.out(columns(rows))
    return Exit.OK
