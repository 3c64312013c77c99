"""HSM key rotation: the root key re-wrapped under another key of a token (or another token on the same
PKCS#11 library and PIN), without touching the data.

Steps, each ending in a crash point, and what a kill there leaves:

    rewrap-staged      the new wrapping stored next to the old one   unseals with the old key
    rewrap-verified    the new wrapping read back and opened          unseals with the old key
    rewrap-committed   one batch: new wrapping in force, old dropped  unseals with the new key

The new wrapping records the key it replaced (`supersedes`), so a configuration that still names the
old key finds the new one (with a warning at each start until the configuration is updated). The old
key stays on the token: destroy it once the configuration names the new one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from engine.errors import BadRequest
from engine.storage.base import Storage
from sealer import seal_wrappings as wrappings
from sealer.crash_points import crash_point
from sealer.seal_record import Change, SealRecord, now_text
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet

log = logging.getLogger("sealer.seal")

STEPS = ("rewrap-staged", "rewrap-verified", "rewrap-committed")


@dataclass(frozen=True)
class RewrapRequest:
    key_label: str
    hmac_key_label: str | None = None  # default: the HMAC key in use
    token: str | None = None  # the configured token's name; may be left out when there is only one
    token_label: str | None = None  # move to this token (same library and PIN)
    generate_key: bool | None = None  # create missing keys (default: the token's generate_key setting)


def choose_token(tokens: TokenSet, name: str | None) -> Pkcs11Seal:
    if name is None:
        if len(tokens.tokens) > 1:
            names = ", ".join(token.name for token in tokens.tokens)
            raise BadRequest(f"several tokens are configured: name the one to rotate with 'token' (one of: {names})")
        return tokens.tokens[0]
    try:
        return tokens.token(name)
    except KeyError:
        names = ", ".join(token.name for token in tokens.tokens)
        raise BadRequest(f"no configured token is named {name!r} (configured: {names})") from None


async def rewrap(storage: Storage, record: SealRecord, tokens: TokenSet, root_key: bytes,
                 request: RewrapRequest) -> tuple[SealRecord, dict[str, Any]]:
    token = choose_token(tokens, request.token)
    current = wrappings.active_candidate(record, tokens, token)
    if current is None:
        raise BadRequest(f"token {token.name} holds no wrapping of the root key in force; "
                         "check sys/seal-status (PUT sys/sealer/seal/reconcile adds missing ones)")
    old = current.wrapping
    hmac_key_label = request.hmac_key_label or old.hmac_key_label or token.settings.hmac_key_label
    if request.key_label == hmac_key_label:
        raise BadRequest("key_label and hmac_key_label must differ")
    moving = request.token_label is not None and request.token_label != old.token_label
    if not moving and request.key_label == old.key_label and hmac_key_label == old.hmac_key_label:
        raise BadRequest(f"the root key is already wrapped under key '{old.key_label}' of token {token.name}")
    generate = token.settings.generate_key if request.generate_key is None else request.generate_key
    seal = tokens.variant(token, request.key_label, hmac_key_label, request.token_label if moving else None,
                          generate_key=generate)
    log.info("HSM key rotation for token %s: wrapping the root key under key '%s' (HMAC key '%s') of token "
             "'%s'; the old key '%s' stays in force until the commit", token.name, request.key_label,
             hmac_key_label, request.token_label or old.token_label, old.key_label)
    new = await wrappings.wrap_under_token(seal, record, root_key, staged=True,
                                           supersedes=(*old.supersedes, old.ref))
    record = await wrappings.stage(storage, record, [new], Change("rewrap", token.name, now_text()))
    crash_point("rewrap-staged")

    await wrappings.verify(storage, record, new[0], root_key, seal=seal)
    log.info("HSM key rotation for token %s: the new wrapping %s was read back and opens", token.name, new[0].id)
    crash_point("rewrap-verified")

    record = await wrappings.commit(storage, record, [old])
    crash_point("rewrap-committed")
    committed = next(w for w in record.wrappings if w.id == new[0].id)
    guidance = config_guidance(token, committed.key_label or "", committed.hmac_key_label or "",
                               committed.token_label if moving else None)
    log.warning("HSM key rotation for token %s committed (wrapping %s replaces %s). %s",
                token.name, committed.id, old.id, guidance)
    result = {
        "token": token.name,
        "wrapping_id": committed.id,
        "replaced_wrapping_id": old.id,
        "token_label": committed.token_label,
        "token_serial": committed.token_serial,
        "key_label": committed.key_label,
        "hmac_key_label": committed.hmac_key_label,
        "config_update": guidance,
    }
    return record, result


def config_guidance(token: Pkcs11Seal, key_label: str, hmac_key_label: str, token_label: str | None) -> str:
    settings = [f"key_label: {key_label}", f"hmac_key_label: {hmac_key_label}"]
    if token_label is not None:
        settings.insert(0, f"token_label: {token_label}")
    return (f"Update the seal configuration of token {token.name} to {', '.join(settings)} before the next "
            "start; until then the daemon follows the stored record to the new key and warns at each start. "
            "The old key stays on the token: destroy it once the configuration is updated.")
