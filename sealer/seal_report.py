"""What sys/seal-status says about the seal's keys beyond Vault's fields: each token's health
("seals") and break-glass ("break_glass"). Names and states only, never key material."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sealer import seal_wrappings as wrappings
from sealer.seal_record import SealRecord
from sealer.seals.base import Seal, SealOptions
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet


def report(record: SealRecord | None, seal: Seal, migrate_from: Seal | None, options: SealOptions, *,
           break_glass_active: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    sets = [(s, s is migrate_from) for s in (seal, migrate_from) if isinstance(s, TokenSet)]
    if sets:
        body["seals"] = [_token(record, tokens, token, disabled) for tokens, disabled in sets
                         for token in tokens.tokens]
    stored = record is not None and record.break_glass
    if options.break_glass or stored or (record is not None and record.break_glass_last_used):
        body["break_glass"] = {
            "enabled": options.break_glass,
            "stored": stored,
            "active": break_glass_active,
            "last_used": (record.break_glass_last_used if record else "") or None,
        }
    return body


def _token(record: SealRecord | None, tokens: TokenSet, token: Pkcs11Seal, disabled: bool) -> dict[str, Any]:
    health = tokens.health[token.name]
    current = None if record is None else wrappings.active_candidate(record, tokens, token)
    settings = current.seal.settings if current is not None else token.settings
    return {
        "name": token.name,
        "type": token.type,
        "priority": token.priority,
        "disabled": disabled,
        "token_label": settings.token_label,
        "token_serial": settings.token_serial,
        "key_label": settings.key_label,
        "wrapped": current is not None,
        "healthy": health.healthy,
        "error": health.error,
        "last_checked": _time(health.checked_at),
    }


def _time(stamp: float) -> str | None:
    if not stamp:
        return None
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
