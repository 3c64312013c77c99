"""`sealer hsm slots | keys | create-key | check`: look at and prepare a PKCS#11 token offline, without a
daemon, through the same module code the daemon uses (hsm/inventory.py).

The token comes from the seal block of a configuration file (-config, and -token-name to pick one of
several), or from -lib with -token-label / -token-serial. The PIN is never a flag (it would show in
`ps` and in shell history): the configuration's, else SEALER_HSM_PIN, else -pin-file, else asked for
without echo."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sealer.cli.base import Command, CommandFailed, Context, Exit, Flags, Group, Parser
from sealer.cli.output import dump, go_value, table

if TYPE_CHECKING:
    from hsm import Pkcs11Settings
    from sealer.config import Pkcs11SealConfig

T = TypeVar("T")


def _token_flags(parser: Parser, *, keys: bool = False) -> None:
    parser.add_argument("--config", metavar="FILE", help="take the module, token and PIN from this server config")
    parser.add_argument("--token-name", metavar="NAME",
                        help="with -config listing several tokens: the token's name (default: the first)")
    parser.add_argument("--lib", metavar="PATH", help="the PKCS#11 module (.so), without -config")
    parser.add_argument("--token-label", metavar="LABEL", help="the token's label, without -config")
    parser.add_argument("--token-serial", metavar="SERIAL", help="the token's serial, without -config")
    parser.add_argument("--pin-file", metavar="FILE", help="read the user PIN from this file")
    if keys:
        parser.add_argument("--key-label", metavar="LABEL", help="the AES wrapping key (default: sealer-root-wrap)")
        parser.add_argument("--hmac-key-label", metavar="LABEL", help="the HMAC key (default: sealer-hmac)")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    from hsm import HsmError

    try:
        return asyncio.run(coroutine)
    except HsmError as exc:
        raise CommandFailed(f"Error: {exc.message}") from None


def _configured_tokens(ctx: Context, args: argparse.Namespace) -> list[Pkcs11SealConfig]:
    from sealer.config import ConfigError, Pkcs11SealConfig, Pkcs11TokensConfig, load_config

    try:
        config = load_config(args.config, ctx.env.environ)
    except ConfigError as exc:
        raise CommandFailed(f"Error loading configuration: {exc}") from None
    tokens: list[Pkcs11SealConfig] = []
    for seal in (config.seal, config.seal_migrate_from):
        if isinstance(seal, Pkcs11SealConfig):
            tokens.append(seal)
        elif isinstance(seal, Pkcs11TokensConfig):
            tokens.extend(seal.tokens)
    if not tokens:
        raise CommandFailed(f"Error: {args.config} has no pkcs11 seal")
    if getattr(args, "token_name", None):
        tokens = [token for token in tokens if token.display_name == args.token_name]
        if not tokens:
            raise CommandFailed(f"Error: {args.config} names no pkcs11 token {args.token_name!r}", Exit.USAGE)
    return tokens


def _pin(ctx: Context, args: argparse.Namespace) -> str:
    pin = ctx.env.getenv("SEALER_HSM_PIN")
    if pin:
        return pin
    if args.pin_file:
        try:
            pin = Path(args.pin_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandFailed(f"Error reading -pin-file: {exc.strerror or exc}") from None
        if pin:
            return pin
        raise CommandFailed("Error: -pin-file is empty")
    try:
        pin = ctx.env.read_secret("PIN (will be hidden): ").strip()
    except EOFError:
        pin = ""
    if not pin:
        raise CommandFailed("Error: no PIN given (SEALER_HSM_PIN, -pin-file, or type it when asked)")
    return pin


def _settings(ctx: Context, args: argparse.Namespace) -> list[Pkcs11Settings]:
    """One set of settings per token addressed: every configured token with -config, else the flags'."""
    from hsm import Pkcs11Settings

    overrides = {name: getattr(args, name) for name in ("key_label", "hmac_key_label")
                 if getattr(args, name, None)}
    try:
        if args.config:
            if args.lib or args.token_label or args.token_serial:
                raise CommandFailed("-config and -lib/-token-label/-token-serial cannot be used together",
                                    Exit.USAGE)
            return [Pkcs11Settings(lib=token.lib, pin=token.pin, token_label=token.token_label,
                                   token_serial=token.token_serial,
                                   **{"key_label": token.key_label, "hmac_key_label": token.hmac_key_label,
                                      **overrides})
                    for token in _configured_tokens(ctx, args)]
        if not args.lib:
            raise CommandFailed("give -config=FILE, or -lib=MODULE with -token-label or -token-serial", Exit.USAGE)
        if not args.token_label and not args.token_serial:
            raise CommandFailed("give -token-label or -token-serial (see `sealer hsm slots -lib=...`)", Exit.USAGE)
        return [Pkcs11Settings(lib=args.lib, pin=_pin(ctx, args), token_label=args.token_label,
                               token_serial=args.token_serial, **overrides)]
    except ValueError as exc:  # e.g. the same label for both keys
        raise CommandFailed(f"Error: {exc}", Exit.USAGE) from None


class SlotsCommand(Command):
    name = "hsm slots"
    summary = "List the module's slots and their tokens"
    usage = "hsm slots [options] (-lib=MODULE | -config=FILE)"
    description = "Lists every slot of the PKCS#11 module and the token in it (label, serial, state). No PIN needed."
    examples = ("sealer hsm slots -lib=/usr/lib/softhsm/libsofthsm2.so", "sealer hsm slots -config=sealer.yaml")
    flags = Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        parser.add_argument("--lib", metavar="PATH", help="the PKCS#11 module (.so)")
        parser.add_argument("--config", metavar="FILE", help="take the module from this server config")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from hsm.inventory import list_slots

        if bool(args.lib) == bool(args.config):
            raise CommandFailed("give exactly one of -lib=MODULE and -config=FILE", Exit.USAGE)
        libs = [args.lib] if args.lib else sorted({token.lib for token in _configured_tokens(ctx, args)})
        slots = [(lib, slot) for lib in libs for slot in _run(list_slots(lib))]
        if ctx.format != "table":
            ctx.env.out(dump([{"lib": lib, **asdict(slot)} for lib, slot in slots], ctx.format))
            return Exit.OK
        rows = []
        for _lib, slot in slots:
            token = slot.token
            if token is None:
                rows.append((str(slot.slot_id), slot.description, "(no token)", "", "", ""))
                continue
            state = "initialized" if token.initialized else "not initialized"
            if token.user_pin_locked:
                state += ", user PIN locked"
            rows.append((str(slot.slot_id), slot.description, token.label or "(none)", token.serial,
                         f"{token.manufacturer} {token.model}".strip(), state))
        ctx.env.out(table(("Slot", "Description", "Token Label", "Serial", "Model", "State"), rows))
        return Exit.OK


class KeysCommand(Command):
    name = "hsm keys"
    summary = "List the keys on a token"
    usage = "hsm keys [options] (-config=FILE | -lib=MODULE -token-label=LABEL)"
    description = (
        "Logs in to the token and lists its labelled objects: class, type, length and whether\n"
        "the key can leave the token (sensitive / extractable). Never prints key values."
    )
    examples = ("sealer hsm keys -config=sealer.yaml",
                "SEALER_HSM_PIN=... sealer hsm keys -lib=/usr/lib/softhsm/libsofthsm2.so -token-label=sealer")
    flags = Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        _token_flags(parser)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from hsm.inventory import list_keys

        listing = [(settings, _run(list_keys(settings))) for settings in _settings(ctx, args)]
        if ctx.format != "table":
            ctx.env.out(dump([{"token": settings.token_name, "keys": [asdict(key) for key in found]}
                              for settings, found in listing], ctx.format))
            return Exit.OK
        for index, (settings, found) in enumerate(listing):
            if len(listing) > 1:
                ctx.env.out(("\n" if index else "") + f"Token {settings.token_name}:")
            rows = [(key.label, key.object_class, key.key_type, "" if key.length is None else str(key.length * 8),
                     go_value(key.sensitive), go_value(key.extractable)) for key in found]
            ctx.env.out(table(("Label", "Class", "Type", "Bits", "Sensitive", "Extractable"), rows)
                        if rows else "No keys on the token.")
        return Exit.OK


class CreateKeyCommand(Command):
    name = "hsm create-key"
    summary = "Create a key on a token, by label"
    usage = "hsm create-key [options] LABEL"
    description = (
        "Generates a key inside the token, non-extractable and sensitive: -type=aes (AES-256, the\n"
        "seal's wrapping key; default) or -type=hmac (32-byte HMAC-SHA256 key). A label already on\n"
        "the token is refused: an existing key is never replaced."
    )
    examples = ("sealer hsm create-key -config=sealer.yaml wrap-2026",
                "sealer hsm create-key -config=sealer.yaml -type=hmac hmac-2026")
    flags = Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        _token_flags(parser)
        parser.add_argument("--type", choices=("aes", "hmac"), default="aes", help="the kind of key (default: aes)")
        parser.add_argument("label", metavar="LABEL")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from hsm.inventory import create_key

        targets = _settings(ctx, args)
        if len(targets) > 1:
            raise CommandFailed("the config lists several tokens: pick one with -token-name", Exit.USAGE)
        created = _run(create_key(targets[0], args.label, args.type))
        if ctx.format != "table":
            ctx.env.out(dump(asdict(created), ctx.format))
        else:
            ctx.env.out(f"Success! Created {created.key_type} key '{created.label}' on token {targets[0].token_name}")
        return Exit.OK


class CheckCommand(Command):
    name = "hsm check"
    summary = "Check that the configured keys work"
    usage = "hsm check [options] (-config=FILE | -lib=MODULE -token-label=LABEL)"
    description = (
        "Opens each configured token as the daemon does (never creating keys), encrypts and\n"
        "decrypts a random value with the wrapping key and computes an HMAC with the HMAC key.\n"
        "Touches no stored data. Exits 1 if any token fails."
    )
    examples = ("sealer hsm check -config=/etc/sealer/sealer.yaml",
                "sealer hsm check -lib=/usr/lib/softhsm/libsofthsm2.so -token-label=sealer -key-label=root-wrap")
    flags = Flags.FORMAT

    def configure(self, parser: Parser) -> None:
        _token_flags(parser, keys=True)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from hsm.inventory import check

        results = [_run(check(settings)) for settings in _settings(ctx, args)]
        if ctx.format != "table":
            ctx.env.out(dump([asdict(result) for result in results], ctx.format))
        else:
            ctx.env.out(table(("Token", "Key", "HMAC Key", "Status", "Detail"),
                              [(r.token, r.key_label, r.hmac_key_label, "ok" if r.ok else "FAILED", r.detail)
                               for r in results]))
        return Exit.OK if all(result.ok for result in results) else Exit.ERROR


GROUP = Group(
    name="hsm",
    summary="Inspect and prepare PKCS#11 tokens (offline)",
    commands={"slots": SlotsCommand, "keys": KeysCommand, "create-key": CreateKeyCommand, "check": CheckCommand},
)
