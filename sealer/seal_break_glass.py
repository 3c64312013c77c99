"""Break-glass (opt-in, `seal.break_glass: true`): the root key is also stored encrypted under a key
derived from the recovery key, so that a threshold of recovery shares can unseal the store when every
PKCS#11 token is lost. Off by default, as in Vault, where recovery shares only authorise.

The trade-off: with it on, the recovery shares are a second way in that needs no token at all; the
threshold of recovery shares becomes as sensitive as the token. Every use is logged at WARNING and
stamped in the seal record (shown on sys/seal-status as break_glass.last_used).
"""

from __future__ import annotations

from engine.storage.base import Put, Storage
from sealer import seal_wrappings as wrappings
from sealer.seal_record import BREAK_GLASS_KEY, SEAL_RECORD_KEY, SealRecord, now_text
from sealer.seals import envelopes


def store(record: SealRecord, recovery_key: bytes, root_key: bytes) -> Put:
    """The write that (re)stores break-glass under `recovery_key`."""
    blob = envelopes.wrap_break_glass(recovery_key, root_key, record.installation_bytes, record.break_glass_aad)
    return Put(BREAK_GLASS_KEY, blob)


async def open_with(storage: Storage, record: SealRecord, recovery_key: bytes) -> bytes:
    """The root key, or SealKeyInvalid if the recovery key is not this installation's."""
    blob = await wrappings.stored(storage, BREAK_GLASS_KEY)
    return envelopes.unwrap_break_glass(recovery_key, blob, record.installation_bytes, record.break_glass_aad)


async def enable(storage: Storage, record: SealRecord, recovery_key: bytes, root_key: bytes) -> SealRecord:
    updated = record.with_wrappings(record.wrappings, break_glass=True)
    await storage.batch([store(record, recovery_key, root_key), Put(SEAL_RECORD_KEY, updated.to_bytes())])
    return updated


async def stamp_use(storage: Storage, record: SealRecord) -> SealRecord:
    updated = record.with_wrappings(record.wrappings, break_glass_last_used=now_text())
    await storage.put(SEAL_RECORD_KEY, updated.to_bytes())
    return updated
