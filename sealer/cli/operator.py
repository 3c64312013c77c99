"""`sealer operator init | unseal | seal`: the seal ceremonies, through sys/init, sys/unseal, sys/seal."""

from __future__ import annotations

import argparse
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.client import RequestError
from sealer.cli.operator_generate_root import GenerateRootCommand
from sealer.cli.operator_keyring import KeyStatusCommand, RotateCommand, StepDownCommand
from sealer.cli.operator_migrate import MigrateCommand
from sealer.cli.operator_rekey import RekeyCommand
from sealer.cli.operator_rotate_hsm_key import RotateHsmKeyCommand
from sealer.cli.operator_text import public_key, shown_keys, wrap
from sealer.cli.operator_tpm_reseal import TpmResealCommand
from sealer.cli.output import dump
from sealer.cli.status import output_seal_status


class InitCommand(Command):
    name = "operator init"
    summary = "Initialize a server"
    usage = "operator init [options]"
    description = (
        "Initializes a Sealer server: its storage is prepared, a root key is generated and\n"
        "split into key shares with Shamir's secret sharing, so that a threshold of them\n"
        "must come together to rebuild it. With the pkcs11 seal the token holds the key and\n"
        "the shares are recovery keys (-recovery-shares, -recovery-threshold).\n\n"
        "With -pgp-keys (or -recovery-pgp-keys) each share is encrypted to its holder's OpenPGP\n"
        "public key, in order, and printed base64-encoded: holders decrypt theirs with\n"
        "`echo SHARE | base64 -d | gpg -dq`. -root-token-pgp-key does the same for the root token.\n"
        "Each key is a path to a public key file (binary, ASCII-armored or base64), or the\n"
        "base64 key itself; Keybase names (keybase:user) are not supported.\n\n"
        "This command cannot be run against an already-initialized server."
    )
    examples = (
        "sealer operator init",
        "sealer operator init -key-shares=3 -key-threshold=2 -format=json",
        "sealer operator init -recovery-shares=5 -recovery-threshold=3",
        "sealer operator init -key-shares=3 -key-threshold=2 -pgp-keys=alice.gpg,bob.asc,carol.gpg "
        "-root-token-pgp-key=alice.gpg",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--key-shares", "-n", type=int, metavar="N",
                            help="number of unseal key shares to split the root key into (default: 5)")
        parser.add_argument("--key-threshold", "-t", type=int, metavar="N",
                            help="number of shares needed to rebuild the root key (default: 3)")
        parser.add_argument("--recovery-shares", type=int, metavar="N",
                            help="number of recovery key shares (pkcs11 seal; default: 5)")
        parser.add_argument("--recovery-threshold", type=int, metavar="N",
                            help="number of recovery shares needed (pkcs11 seal; default: 3)")
        parser.add_argument("--pgp-keys", metavar="FILES",
                            help="comma-separated public keys to encrypt the unseal shares to, one per share")
        parser.add_argument("--recovery-pgp-keys", metavar="FILES",
                            help="comma-separated public keys to encrypt the recovery shares to (pkcs11 seal)")
        parser.add_argument("--root-token-pgp-key", metavar="FILE",
                            help="public key to encrypt the initial root token to")
        parser.add_argument("--status", action="store_true",
                            help="print whether the server is initialized: exit 0 if it is, 2 if not")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if args.status:
            return self._status(ctx)
        body = self.request_body(args)
        try:
            response = ctx.client().put("sys/init", body) or {}
        except RequestError as exc:
            raise CommandFailed(f"Error initializing: {exc}") from None
        if ctx.format != "table":
            ctx.env.out(dump(machine_init(body, response), ctx.format))
        else:
            ctx.env.out(init_text(body, response))
        return Exit.OK

    @staticmethod
    def request_body(args: argparse.Namespace) -> dict[str, Any]:
        recovery = (args.recovery_shares is not None or args.recovery_threshold is not None
                    or args.recovery_pgp_keys is not None)
        body: dict[str, Any] = {}
        if not recovery or args.key_shares is not None or args.key_threshold is not None:
            body["secret_shares"] = 5 if args.key_shares is None else args.key_shares
            body["secret_threshold"] = 3 if args.key_threshold is None else args.key_threshold
        if recovery:
            body["recovery_shares"] = 5 if args.recovery_shares is None else args.recovery_shares
            body["recovery_threshold"] = 3 if args.recovery_threshold is None else args.recovery_threshold
        for flag, name in (("pgp-keys", "pgp_keys"), ("recovery-pgp-keys", "recovery_pgp_keys")):
            value = getattr(args, name)
            if value is not None:
                body[name] = [public_key(flag, item) for item in value.split(",")]
        if args.root_token_pgp_key is not None:
            body["root_token_pgp_key"] = public_key("root-token-pgp-key", args.root_token_pgp_key)
        return body

    def _status(self, ctx: Context) -> int:
        try:
            initialized = bool((ctx.client().get("sys/init") or {}).get("initialized"))
        except RequestError as exc:
            raise CommandFailed(f"Error checking init status: {exc}") from None
        if ctx.format != "table":
            ctx.env.out(dump({"initialized": initialized}, ctx.format))
        else:
            ctx.env.out("Sealer is initialized" if initialized else "Sealer is not initialized")
        return Exit.OK if initialized else Exit.SEALED


def init_text(request: dict[str, Any], response: dict[str, Any]) -> str:
    """What Vault prints after `operator init`: keys, root token, and how to treat them."""
    unseal = shown_keys(response, "keys", "keys_base64")
    recovery = shown_keys(response, "recovery_keys", "recovery_keys_base64")
    lines = [f"Unseal Key {i}: {key}" for i, key in enumerate(unseal, 1)]
    lines += [f"Recovery Key {i}: {key}" for i, key in enumerate(recovery, 1)]
    lines += ["", f"Initial Root Token: {response.get('root_token', '')}", ""]
    if unseal:
        shares, threshold = request.get("secret_shares", len(unseal)), request.get("secret_threshold", 0)
        lines += [
            wrap(f"Sealer initialized with {shares} key shares and a key threshold of {threshold}. "
                  "Please securely distribute the key shares printed above. When Sealer is re-sealed, "
                  f"restarted, or stopped, you must supply at least {threshold} of these keys to unseal "
                  "it before it can start servicing requests."),
            "",
            wrap(f"Sealer does not store the generated root key. Without at least {threshold} keys "
                  "to reconstruct the root key, Sealer will remain permanently sealed!"),
            "",
            wrap("It is possible to generate new unseal keys, provided you have a quorum of existing "
                  'unseal keys shares. See "sealer operator rekey" for more information.'),
        ]
    else:
        lines.append("Success! Sealer is initialized")
    if recovery:
        shares = request.get("recovery_shares", len(recovery))
        threshold = request.get("recovery_threshold", 0)
        lines += ["", wrap(f"Recovery key initialized with {shares} key shares and a key threshold of "
                            f"{threshold}. Please securely distribute the key shares printed above.")]
    return "\n".join(lines)


def machine_init(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Vault's -format=json for init (its machineInit), so `jq -r .unseal_keys_b64[]` scripts work."""
    keys = response.get("keys") or []
    return {
        "unseal_keys_b64": response.get("keys_base64") or [],
        "unseal_keys_hex": keys,
        # No unseal keys means the token holds the root key: Vault reports that as 1 of 1.
        "unseal_shares": request.get("secret_shares", 0) if keys else 1,
        "unseal_threshold": request.get("secret_threshold", 0) if keys else 1,
        "recovery_keys_b64": response.get("recovery_keys_base64") or [],
        "recovery_keys_hex": response.get("recovery_keys") or [],
        "recovery_keys_shares": request.get("recovery_shares", 0),
        "recovery_keys_threshold": request.get("recovery_threshold", 0),
        "root_token": response.get("root_token", ""),
    }


class UnsealCommand(Command):
    name = "operator unseal"
    summary = "Unseal the server"
    usage = "operator unseal [options] [KEY]"
    description = (
        "Provides one unseal key (a share of the root key). Once a threshold of shares has been\n"
        "given, the server unseals. The key can be an argument, but then it stays in your shell\n"
        "history: without one, the command asks for it without echo (or reads one line from\n"
        "stdin when stdin is not a terminal)."
    )
    examples = (
        "sealer operator unseal",
        "sealer operator unseal IXyR0OJnSFobekZMMCKCoVEpT7wI6l+USMzE3IcyDyo=",
        "sealer operator unseal -reset",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("key", nargs="?", metavar="KEY", help="an unseal key (hex or base64)")
        parser.add_argument("--reset", action="store_true",
                            help="discard the keys entered so far")
        parser.add_argument("--migrate", action="store_true",
                            help="the key is the old seal's, for a pending seal migration")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        client = ctx.client()
        if args.reset:
            body: dict[str, Any] = {"reset": True}
            failure = "Error resetting unseal process"
        else:
            key = args.key.strip() if args.key is not None else self._ask(ctx)
            if not key:
                raise CommandFailed("Error unsealing: no unseal key given")
            body = {"key": key, "migrate": True} if args.migrate else {"key": key}
            failure = "Error unsealing"
        try:
            status = client.put("sys/unseal", body) or {}
        except RequestError as exc:
            raise CommandFailed(f"{failure}: {exc}") from None
        return output_seal_status(ctx, status)

    @staticmethod
    def _ask(ctx: Context) -> str:
        try:
            return ctx.env.read_secret("Unseal Key (will be hidden): ").strip()
        except EOFError:
            return ""


class SealCommand(Command):
    name = "operator seal"
    summary = "Seal the server"
    usage = "operator seal [options]"
    description = (
        "Seals the server: it forgets the keys that decrypt its storage and answers no request\n"
        "until it is unsealed again. An unseal in progress is reset. Needs a root token\n"
        "(SEALER_TOKEN or VAULT_TOKEN)."
    )
    examples = ("sealer operator seal",)
    flags = Flags.HTTP

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        try:
            ctx.client().request("PUT", "sys/seal")
        except RequestError as exc:
            raise CommandFailed(f"Error sealing: {exc}") from None
        ctx.env.out("Success! Sealer is sealed.")
        return Exit.OK


GROUP = Group(
    name="operator",
    summary="Perform operator-specific tasks",
    commands={"init": InitCommand, "unseal": UnsealCommand, "seal": SealCommand, "rekey": RekeyCommand,
              "generate-root": GenerateRootCommand, "migrate": MigrateCommand,
              "rotate": RotateCommand, "key-status": KeyStatusCommand, "step-down": StepDownCommand,
              "rotate-hsm-key": RotateHsmKeyCommand, "tpm-reseal": TpmResealCommand},
)
