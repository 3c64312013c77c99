"""`sealer operator generate-root`: a new root token from a threshold of key holders, through
sys/generate-root/*, with Vault's flags and output; -decode turns the encoded token back into the token."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from sealer.ceremonies.otp import OtpError, decode_token, generate_otp
from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.client import Client, RequestError
from sealer.cli.key_entry import enter_key
from sealer.cli.operator_text import failed, public_key, wrap
from sealer.cli.output import columns, dump, print_raw


class GenerateRootCommand(Command):
    name = "operator generate-root"
    summary = "Generates a new root token"
    usage = "operator generate-root [options] [KEY]"
    description = (
        "Generates a new root token by combining a quorum of share holders (unseal keys, or recovery\n"
        "keys with the pkcs11 seal). The token is returned encoded, in one of two ways:\n\n"
        "  - XORed with a one-time password (OTP): -init without -otp has the server generate one and\n"
        "    print it once (keep it); -init -otp=... uses yours (-generate-otp makes one). Decode the\n"
        "    result with -decode=ENCODED -otp=OTP.\n"
        "  - Encrypted to a PGP public key (-pgp-key=FILE); decrypt with\n"
        "    `echo ENCODED | base64 -d | gpg -dq`.\n\n"
        "Each holder then runs the command without KEY and types the key at the prompt (no echo).\n"
        "KEY may be given as an argument (it stays in the shell's history) or as \"-\" to read stdin;\n"
        "both need -nonce."
    )
    examples = (
        "sealer operator generate-root -init",
        "sealer operator generate-root -generate-otp",
        'sealer operator generate-root -init -otp="..."',
        "sealer operator generate-root -init -pgp-key=alice.gpg",
        "sealer operator generate-root",
        'sealer operator generate-root -decode="..." -otp="..."',
        "sealer operator generate-root -status",
        "sealer operator generate-root -cancel",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("key", nargs="?", metavar="KEY", help='an unseal or recovery key; "-" for stdin')
        parser.add_argument("--init", action="store_true", help="start a root token generation")
        parser.add_argument("--cancel", action="store_true", help="discard the generation in progress")
        parser.add_argument("--status", action="store_true", help="print the generation's progress")
        parser.add_argument("--decode", default="", metavar="ENCODED",
                            help="decode this encoded token with -otp and print the token")
        parser.add_argument("--generate-otp", action="store_true",
                            help="print a one-time password suitable for -init -otp")
        parser.add_argument("--otp", default="", help="the OTP, for -init or -decode")
        parser.add_argument("--pgp-key", default="", metavar="FILE",
                            help="public key file to encrypt the new token to (instead of an OTP)")
        parser.add_argument("--nonce", default="", help="the generation's nonce (needed with a KEY argument)")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if args.decode:
            return self._decode(ctx, args.decode, args.otp)
        client = ctx.client()
        if args.generate_otp:
            return self._generate_otp(ctx, client)
        if args.cancel:
            try:
                client.delete("sys/generate-root/attempt")
            except RequestError as exc:
                raise failed("Error canceling root token generation", exc) from None
            ctx.env.out("Success! Root token generation canceled (if it was started)")
            return Exit.OK
        if args.init:
            return self._init(ctx, client, args)
        if args.status:
            self._print_status(ctx, self._read_status(client))
            return Exit.OK
        return self._provide(ctx, client, args)

    @staticmethod
    def _read_status(client: Client) -> dict[str, Any]:
        try:
            return client.get("sys/generate-root/attempt") or {}
        except RequestError as exc:
            raise failed("Error getting root generation status", exc) from None

    def _generate_otp(self, ctx: Context, client: Client) -> int:
        length = int(self._read_status(client).get("otp_length") or 0)
        if length <= 0:
            raise CommandFailed("Error: the server did not say how long an OTP must be", code=2)
        otp = generate_otp(length)
        if ctx.format == "table":
            print_raw(ctx, otp)
        else:
            ctx.env.out(dump({"otp": otp, "otp_length": len(otp)}, ctx.format))
        return Exit.OK

    def _decode(self, ctx: Context, encoded: str, otp: str) -> int:
        if not otp:
            raise CommandFailed("Missing otp: use -otp to supply it")
        try:
            token = decode_token(encoded, otp)
        except OtpError as exc:
            raise CommandFailed(f"Error decoding the token: {exc}") from None
        if ctx.format == "table":
            print_raw(ctx, token)
        else:
            ctx.env.out(dump({"token": token}, ctx.format))
        return Exit.OK

    def _init(self, ctx: Context, client: Client, args: argparse.Namespace) -> int:
        if args.otp and args.pgp_key:
            raise CommandFailed("Error initializing: cannot specify both -otp and -pgp-key")
        body: dict[str, str] = {}
        if args.otp:
            body["otp"] = args.otp
        if args.pgp_key:
            body["pgp_key"] = public_key("pgp-key", args.pgp_key)
        try:
            status = client.put("sys/generate-root/attempt", body) or {}
        except RequestError as exc:
            raise failed("Error initializing root generation", exc) from None
        self._print_status(ctx, status)
        if ctx.format == "table":
            ctx.env.out("")
            ctx.env.out(wrap(
                f"Next: {status.get('required', 0)} key holders each run `sealer operator generate-root` "
                f"and enter their key (nonce {status.get('nonce', '')})."))
        return Exit.OK

    def _provide(self, ctx: Context, client: Client, args: argparse.Namespace) -> int:
        status = self._read_status(client)
        if not status.get("started"):
            ctx.env.err(wrap("No root generation is in progress. Start a root generation by running "
                              "\"sealer operator generate-root -init\"."))
            raise CommandFailed(wrap(
                "If starting root generation using the OTP method and generating your own OTP, the length "
                f"of the OTP string needs to be {status.get('otp_length', 0)} characters in length."))
        entry = enter_key(ctx, args.key, args.nonce, str(status.get("nonce", "")), "Operation nonce")
        try:
            response = client.put("sys/generate-root/update", {"key": entry.key, "nonce": entry.nonce}) or {}
        except RequestError as exc:
            raise failed("Error posting unseal key", exc) from None
        self._print_status(ctx, response)
        if ctx.format == "table":
            ctx.env.out("")
            if response.get("complete"):
                if status.get("pgp_fingerprint"):
                    ctx.env.out(wrap("Next: decrypt the token with the private key of "
                                      f"{status['pgp_fingerprint']}: `echo ENCODED | base64 -d | gpg -dq`."))
                else:
                    ctx.env.out(wrap("Next: decode the token with the OTP given at -init: "
                                      "`sealer operator generate-root -decode=ENCODED -otp=OTP`."))
            else:
                required, done = int(response.get("required", 0)), int(response.get("progress", 0))
                ctx.env.out(wrap(f"{done} of {required} shares entered; {required - done} more needed. Next: "
                                  "the next key holder runs `sealer operator generate-root`."))
        return Exit.OK

    def _print_status(self, ctx: Context, status: Mapping[str, Any]) -> None:
        if ctx.format != "table":
            ctx.env.out(dump(dict(status), ctx.format))
            return
        rows = [
            ["Nonce", str(status.get("nonce", ""))],
            ["Started", "true" if status.get("started") else "false"],
            ["Progress", f"{status.get('progress', 0)}/{status.get('required', 0)}"],
            ["Complete", "true" if status.get("complete") else "false"],
        ]
        if status.get("pgp_fingerprint"):
            rows.append(["PGP Fingerprint", str(status["pgp_fingerprint"])])
        if status.get("encoded_token"):
            rows.append(["Encoded Token", str(status["encoded_token"])])
        elif status.get("encoded_root_token"):
            rows.append(["Encoded Root Token", str(status["encoded_root_token"])])
        if status.get("otp"):
            ctx.env.err(wrap("A One-Time-Password has been generated for you and is shown in the OTP field. "
                              "You will need this value to decode the resulting root token, so keep it safe."))
            rows.append(["OTP", str(status["otp"])])
        if status.get("otp_length"):
            rows.append(["OTP Length", str(status["otp_length"])])
        ctx.env.out(columns(rows))
