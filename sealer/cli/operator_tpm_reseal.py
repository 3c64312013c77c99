"""`sealer operator tpm-reseal`: after a PCR change, recovery shares re-seal the root key to the TPM in its
current boot state (sys/sealer/seal/tpm-reseal), one key holder's share at a time, showing progress."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.client import Client, RequestError
from sealer.cli.output import dump

PATH = "sys/sealer/seal/tpm-reseal"


class TpmResealCommand(Command):
    name = "operator tpm-reseal"
    summary = "Re-seal the root key to the TPM's current boot state"
    usage = "operator tpm-reseal [options] [KEY ...]"
    description = (
        "With the tpm2 seal and a PCR policy (`pcrs:`), the TPM unseals the root key only in the boot\n"
        "state it was sealed in. After a legitimate change (a new kernel, firmware or boot chain) the\n"
        "server stays sealed and its seal status names the PCRs that changed. This command re-seals\n"
        "the root key to the TPM as it is now, under the configured PCRs: once a threshold of recovery\n"
        "shares is in, the server rebuilds the root key from its copy under the recovery key, seals it\n"
        "to the TPM, reads it back, replaces the old wrapping and unseals; every later start unseals\n"
        "on its own again.\n\n"
        "Without KEY arguments each share is asked for without echo (one line of stdin each when stdin\n"
        "is not a terminal); an empty answer stops, and the next key holder runs the command again to\n"
        "go on (the attempt in progress is identified by its nonce, which this command looks up).\n"
        "Check first that the new boot state is one you trust: re-sealing makes it the one that unseals."
    )
    examples = (
        "sealer operator tpm-reseal",
        "sealer operator tpm-reseal -status",
        "sealer operator tpm-reseal -cancel",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("keys", nargs="*", metavar="KEY", help="recovery shares (hex or base64); asked for "
                                                                   "when left out")
        parser.add_argument("--status", action="store_true", help="print the reseal in progress, if any")
        parser.add_argument("--cancel", action="store_true", help="discard the shares entered so far")
        parser.add_argument("--nonce", default="", help="the nonce of the reseal in progress (looked up when "
                                                        "left out)")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        if args.cancel:
            return _show(ctx, _call(client, "DELETE", None, "Error cancelling the tpm-reseal"))
        status = _call(client, "GET", None, "Error reading the tpm-reseal status")
        if args.status:
            return _show(ctx, status)
        nonce = args.nonce or status.get("nonce", "")
        required = int(status.get("required", 0))
        pcrs = status.get("pcrs") or "no PCR policy"
        ctx.env.err(f"Re-sealing the root key to the TPM ({pcrs}): {required} recovery keys are needed "
                    f"({status.get('progress', 0)} given so far).")
        keys = [key.strip() for key in args.keys]
        while not status.get("complete"):
            key = keys.pop(0) if keys else _ask(ctx)
            if not key:
                ctx.env.err(f"{status.get('progress', 0)} of {required} recovery keys are in (nonce "
                            f"{status.get('nonce', '')}): the next key holder runs `sealer operator tpm-reseal`.")
                return Exit.SEALED
            status = _call(client, "PUT", {"key": key, "nonce": nonce}, "Error re-sealing to the TPM")
            nonce = status.get("nonce") or nonce
            if not status.get("complete"):
                ctx.env.err(f"{status.get('progress', 0)} of {required} recovery keys")
        return _done(ctx, status)


def _call(client: Client, method: str, body: dict[str, Any] | None, failure: str) -> dict[str, Any]:
    try:
        return client.request(method, PATH, body) or {}
    except RequestError as exc:
        raise CommandFailed(f"{failure}: {exc}") from None


def _ask(ctx: Context) -> str:
    try:
        return ctx.env.read_secret("Recovery Key (will be hidden): ").strip()
    except EOFError:
        return ""


def _show(ctx: Context, status: dict[str, Any]) -> int:
    if ctx.format != "table":
        ctx.env.out(dump(status, ctx.format))
    elif status.get("started"):
        ctx.env.out(f"A tpm-reseal is in progress: {status.get('progress')} of {status.get('required')} recovery "
                    f"keys (nonce {status.get('nonce')})")
    else:
        ctx.env.out("No tpm-reseal is in progress")
    return Exit.OK


def _done(ctx: Context, status: dict[str, Any]) -> int:
    if ctx.format != "table":
        ctx.env.out(dump(status, ctx.format))
    else:
        pcrs = status.get("pcrs") or "no PCR policy"
        state = "sealed" if status.get("sealed") else "unsealed"
        ctx.env.out(f"Success! The root key is sealed to the TPM's current state ({pcrs}); the server is {state}, "
                    "and later starts unseal on their own.")
    return Exit.SEALED if status.get("sealed") else Exit.OK
