"""`sealer operator rekey`: new unseal (or recovery) shares, through sys/rekey[-recovery-key]/*, with
Vault's flags and output."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Parser
from sealer.cli.client import Client, RequestError
from sealer.cli.key_entry import enter_key
from sealer.cli.operator_text import failed, public_key, shown_keys, wrap
from sealer.cli.output import dump, kv_table, output_secret

_TARGETS = {"barrier": "rekey", "recovery": "rekey-recovery-key", "hsm": "rekey-recovery-key"}
_BACKUPS = {"barrier": "rekey/backup", "recovery": "rekey/recovery-key-backup", "hsm": "rekey/recovery-key-backup"}


class RekeyCommand(Command):
    name = "operator rekey"
    summary = "Generates new unseal keys"
    usage = "operator rekey [options] [KEY]"
    description = (
        "Generates a new set of unseal keys (or, with -target=recovery, recovery keys). This can\n"
        "change the number of key shares and the threshold. The server stays unsealed throughout,\n"
        "but a threshold of the current keys must be entered, each by its holder.\n\n"
        "Each holder runs the command without KEY and types the key at the prompt (no echo). With\n"
        "-verify at -init, the new keys are only put into effect once a threshold of them has been\n"
        "entered again (`sealer operator rekey -verify`); until then the current keys stay valid.\n"
        "KEY may be given as an argument (it then stays in the shell's history) or as \"-\" to read\n"
        "it from stdin; both need -nonce."
    )
    examples = (
        "sealer operator rekey -init -key-shares=5 -key-threshold=3",
        "sealer operator rekey -init -key-shares=5 -key-threshold=3 -verify",
        "sealer operator rekey",
        "sealer operator rekey -verify",
        "sealer operator rekey -target=recovery -init -key-shares=5 -key-threshold=3",
        "sealer operator rekey -init -key-shares=3 -key-threshold=2 -pgp-keys=alice.gpg,bob.gpg,carol.gpg -backup",
        "sealer operator rekey -status",
        "sealer operator rekey -cancel",
    )
    flags = Flags.HTTP | Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("key", nargs="?", metavar="KEY",
                            help='a current (or, with -verify, new) key; "-" for stdin')
        parser.add_argument("--init", action="store_true", help="start a rekey (none may be in progress)")
        parser.add_argument("--cancel", action="store_true",
                            help="discard the rekey in progress (with -verify: restart the verification)")
        parser.add_argument("--status", action="store_true", help="print the rekey's progress")
        parser.add_argument("--key-shares", "-n", type=int, default=5, metavar="N",
                            help="number of new key shares (default: 5)")
        parser.add_argument("--key-threshold", "-t", type=int, default=3, metavar="N",
                            help="number of new shares needed to rebuild the key (default: 3)")
        parser.add_argument("--nonce", default="", help="the rekey's nonce (needed with a KEY argument)")
        parser.add_argument("--target", default="barrier", choices=sorted(_TARGETS),
                            help='"barrier" for unseal keys, "recovery" for recovery keys (pkcs11 seal)')
        parser.add_argument("--verify", action="store_true",
                            help="with -init: require verification of the new keys; otherwise act on the "
                                 "verification")
        parser.add_argument("--pgp-keys", metavar="FILES",
                            help="comma-separated public key files; each new key is encrypted to one, in order")
        parser.add_argument("--backup", action="store_true",
                            help="keep the PGP-encrypted new keys in the server's storage")
        parser.add_argument("--backup-retrieve", action="store_true",
                            help="print the backed-up PGP-encrypted keys (needs a root token)")
        parser.add_argument("--backup-delete", action="store_true",
                            help="delete the backed-up keys (needs a root token)")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        prefix = _TARGETS[args.target]
        client = ctx.client()
        if args.backup_delete:
            return self._backup_delete(ctx, client, _BACKUPS[args.target])
        if args.backup_retrieve:
            return self._backup_retrieve(ctx, client, _BACKUPS[args.target])
        if args.cancel:
            return self._cancel(ctx, client, prefix, args.verify)
        if args.init:
            return self._init(ctx, client, prefix, args)
        if args.status:
            return self._status(ctx, client, prefix, args.verify)
        return self._provide(ctx, client, prefix, args)

    # -- the steps ---------------------------------------------------------------------------

    def _init(self, ctx: Context, client: Client, prefix: str, args: argparse.Namespace) -> int:
        body: dict[str, Any] = {
            "secret_shares": args.key_shares,
            "secret_threshold": args.key_threshold,
            "require_verification": args.verify,
        }
        if args.pgp_keys:
            body["pgp_keys"] = [public_key("pgp-keys", item) for item in args.pgp_keys.split(",")]
            body["backup"] = args.backup
        elif args.backup:
            body["backup"] = True
        try:
            status = client.put(f"sys/{prefix}/init", body) or {}
        except RequestError as exc:
            raise failed("Error initializing rekey", exc) from None
        if ctx.format == "table":
            if not args.pgp_keys:
                ctx.env.err(wrap(
                    "WARNING! If you lose the keys after they are returned, there is no recovery. Consider "
                    "canceling this operation and re-initializing with the -pgp-keys flag to protect the "
                    "returned unseal keys along with -backup to allow recovery of the encrypted keys in case "
                    "of emergency. You can delete the stored keys later using the -backup-delete flag."))
                ctx.env.err("")
            elif not args.backup:
                ctx.env.err(wrap(
                    "WARNING! You are using PGP keys for encrypted the resulting unseal keys, but you did not "
                    "enable the option to backup the keys to Sealer's core. If you lose the encrypted keys "
                    "after they are returned, you will not be able to recover them. Consider canceling this "
                    "operation and re-running with -backup to allow recovery of the encrypted unseal keys in "
                    "case of emergency. You can delete the stored keys later using the -backup-delete flag."))
                ctx.env.err("")
        self._print_status(ctx, status, verification=False)
        if ctx.format == "table":
            ctx.env.out("")
            ctx.env.out(wrap(
                f"Next: {status.get('required', 0)} holders of the current keys each run "
                f"`{self._again(args)}` and enter their key (nonce {status.get('nonce', '')})."))
        return Exit.OK

    @staticmethod
    def _again(args: argparse.Namespace, verify: bool = False) -> str:
        command = "sealer operator rekey"
        if args.target != "barrier":
            command += f" -target={args.target}"
        return command + (" -verify" if verify else "")

    def _cancel(self, ctx: Context, client: Client, prefix: str, verify: bool) -> int:
        try:
            if verify:
                client.request("DELETE", f"sys/{prefix}/verify")
            else:
                client.delete(f"sys/{prefix}/init")
        except RequestError as exc:
            raise failed("Error canceling rekey", exc) from None
        ctx.env.out("Success! Canceled rekeying (if it was started)")
        return Exit.OK

    def _read_status(self, client: Client, prefix: str, verify: bool) -> dict[str, Any]:
        try:
            return client.get(f"sys/{prefix}/verify" if verify else f"sys/{prefix}/init") or {}
        except RequestError as exc:
            raise failed("Error reading rekey status", exc) from None

    def _status(self, ctx: Context, client: Client, prefix: str, verify: bool) -> int:
        self._print_status(ctx, self._read_status(client, prefix, verify), verification=verify)
        return Exit.OK

    def _provide(self, ctx: Context, client: Client, prefix: str, args: argparse.Namespace) -> int:
        status = self._read_status(client, prefix, args.verify)
        if not status.get("started"):
            raise CommandFailed(wrap(
                "No rekey is in progress. Start a rekey process by running \"sealer operator rekey -init\"."
                if not args.verify else
                "No rekey verification is in progress: it starts once the current keys have been entered."))
        label = "Rekey verification nonce" if args.verify else "Rekey operation nonce"
        entry = enter_key(ctx, args.key, args.nonce, str(status.get("nonce", "")), label)
        path = f"sys/{prefix}/verify" if args.verify else f"sys/{prefix}/update"
        try:
            response = client.put(path, {"key": entry.key, "nonce": entry.nonce}) or {}
        except RequestError as exc:
            raise failed("Error posting unseal key", exc) from None
        if not response.get("complete"):
            self._print_status(ctx, response, verification=args.verify)
            if ctx.format == "table":
                required = response.get("t" if args.verify else "required", 0)
                done = int(response.get("progress", 0))
                ctx.env.out("")
                ctx.env.out(wrap(
                    f"{done} of {required} shares entered; {max(required - done, 0)} more needed. Next: the next "
                    f"key holder runs `{self._again(args, args.verify)}`."))
            return Exit.OK
        if args.verify:
            if ctx.format != "table":
                ctx.env.out(dump(response, ctx.format))
            else:
                ctx.env.out("Rekey verification successful. The new keys are now in effect; "
                            "the previous keys no longer work.")
            return Exit.OK
        return self._print_keys(ctx, client, prefix, status, response, args)

    def _print_keys(self, ctx: Context, client: Client, prefix: str, status: Mapping[str, Any],
                    response: Mapping[str, Any], args: argparse.Namespace) -> int:
        if ctx.format != "table":
            ctx.env.out(dump(dict(response), ctx.format))
            return Exit.OK
        shown = shown_keys(response, "keys", "keys_base64")
        fingerprints = response.get("pgp_fingerprints") or []
        ctx.env.out("")
        for number, key in enumerate(shown, 1):
            if fingerprints:
                ctx.env.out(f"Key {number} fingerprint: {fingerprints[number - 1]}; value: {key}")
            else:
                ctx.env.out(f"Key {number}: {key}")
        ctx.env.out("")
        ctx.env.out(f"Operation nonce: {response.get('nonce', '')}")
        if fingerprints and response.get("backup"):
            ctx.env.out("")
            ctx.env.out(wrap(
                f"The encrypted unseal keys are backed up to \"core/{'recovery' if prefix != 'rekey' else 'unseal'}"
                "-keys-backup\" in the storage backend. Remove these keys at any time using "
                "\"sealer operator rekey -backup-delete\". Sealer does not automatically remove these keys."))
        shares, threshold = status.get("n", len(shown)), status.get("t", 0)
        ctx.env.out("")
        if not response.get("verification_required"):
            ctx.env.out(wrap(
                f"Sealer rekeyed with {shares} key shares and a key threshold of {threshold}. Please securely "
                "distribute the key shares printed above. When Sealer is re-sealed, restarted, or stopped, you "
                f"must supply at least {threshold} of these keys to unseal it before it can start servicing "
                "requests."))
            return Exit.OK
        ctx.env.out(wrap(
            f"Sealer has created a new key, split into {shares} key shares and a key threshold of {threshold}. "
            "These will not be active until after verification is complete. Please securely distribute the key "
            "shares printed above. When Sealer is re-sealed, restarted, or stopped, you must supply at least "
            f"{threshold} of these keys to unseal it before it can start servicing requests."))
        ctx.env.out("")
        ctx.env.err(wrap(
            "Again, these key shares are _not_ valid until verification is performed. Do not lose or discard "
            "your current key shares until after verification is complete or you will be unable to unseal "
            "Sealer. If you cancel the rekey process or seal Sealer before verification is complete the new "
            "shares will be discarded and the current shares will remain valid."))
        ctx.env.err("")
        ctx.env.err(wrap("The current verification status, including initial nonce, is shown below."))
        ctx.env.err("")
        self._print_status(ctx, self._read_status(client, prefix, True), verification=True)
        ctx.env.out("")
        ctx.env.out(wrap(
            f"Next: {threshold} holders of the new keys each run `{self._again(args, verify=True)}` "
            f"and enter their new key (verification nonce {response.get('verification_nonce', '')})."))
        return Exit.OK

    def _backup_retrieve(self, ctx: Context, client: Client, path: str) -> int:
        try:
            secret = client.get(f"sys/{path}") or {}
        except RequestError as exc:
            raise failed("Error retrieving rekey stored keys", exc) from None
        return output_secret(ctx, secret)

    def _backup_delete(self, ctx: Context, client: Client, path: str) -> int:
        try:
            client.delete(f"sys/{path}")
        except RequestError as exc:
            raise failed("Error deleting rekey stored keys", exc) from None
        ctx.env.out("Success! Delete stored keys (if they existed)")
        return Exit.OK

    # -- output ------------------------------------------------------------------------------

    @staticmethod
    def _print_status(ctx: Context, status: Mapping[str, Any], *, verification: bool) -> None:
        if ctx.format != "table":
            ctx.env.out(dump(dict(status), ctx.format))
            return
        rows: list[tuple[str, object]] = [("Nonce", status.get("nonce", "")),
                                          ("Started", bool(status.get("started")))]
        if verification:
            rows += [("New Shares", status.get("n", 0)), ("New Threshold", status.get("t", 0)),
                     ("Verification Progress", f"{status.get('progress', 0)}/{status.get('t', 0)}")]
        else:
            if status.get("started"):
                rows += [("Rekey Progress", f"{status.get('progress', 0)}/{status.get('required', 0)}"),
                         ("New Shares", status.get("n", 0)), ("New Threshold", status.get("t", 0)),
                         ("Verification Required", bool(status.get("verification_required")))]
                if status.get("verification_nonce"):
                    rows.append(("Verification Nonce", status["verification_nonce"]))
            if status.get("pgp_fingerprints"):
                rows += [("PGP Fingerprints", status["pgp_fingerprints"]), ("Backup", bool(status.get("backup")))]
        ctx.env.out(kv_table(rows))
