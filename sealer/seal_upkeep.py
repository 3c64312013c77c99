"""Looking after the seal while unsealed: check every token (can it still open its wrapping of the root
key?), wrap the root key under a configured token that has no wrapping yet (a token that was down at
init or migration, or newly added to the configuration), and drop break-glass when it was turned off.

Runs after each unseal, every `seal.health_check_interval` seconds, and on PUT sys/sealer/seal/reconcile.
A token whose wrapping stops opening is reported, never re-wrapped on its own: a replaced token must
not get the root key without an operator asking (sealer operator rotate-hsm-key).
"""

from __future__ import annotations

import logging

from engine.storage.base import Delete, Put, Storage
from sealer import seal_wrappings as wrappings
from sealer.seal_record import BREAK_GLASS_KEY, SEAL_RECORD_KEY, SealRecord
from sealer.seals.base import SealKeyInvalid, SealOptions, SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet

log = logging.getLogger("sealer.seal")


async def reconcile(storage: Storage, record: SealRecord, tokens: TokenSet | None, root_key: bytes,
                    options: SealOptions) -> SealRecord:
    if tokens is not None and record.type == tokens.type:
        for token in tokens.tokens:
            record = await _check(storage, record, tokens, token, root_key)
    if record.break_glass and not options.break_glass:
        updated = record.with_wrappings(record.wrappings, break_glass=False)
        await storage.batch([Delete(BREAK_GLASS_KEY), Put(SEAL_RECORD_KEY, updated.to_bytes())])
        log.warning("break-glass is off in the configuration: removed the root key's break-glass wrapping; "
                    "recovery shares now only authorise")
        record = updated
    return record


async def _check(storage: Storage, record: SealRecord, tokens: TokenSet, token: Pkcs11Seal,
                 root_key: bytes) -> SealRecord:
    health = tokens.health[token.name]
    current = wrappings.active_candidate(record, tokens, token)
    try:
        if current is not None:
            await current.seal.open()
            await wrappings.verify(storage, record, current.wrapping, root_key, seal=current.seal)
        else:
            new = await wrappings.wrap_under_token(token, record, root_key)
            record = await wrappings.add_active(storage, record, new)
            log.info("token %s had no wrapping of the root key: wrapped it under key '%s' (wrapping %s)",
                     token.name, token.settings.key_label, new[0].id)
    except (SealUnavailable, SealKeyInvalid) as exc:
        if health.record(str(exc)):
            log.warning("token %s is unhealthy: %s", token.name, exc)
        return record
    if health.record(None):
        log.info("token %s is healthy", token.name)
    return record
