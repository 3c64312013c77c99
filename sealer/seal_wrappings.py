"""The stored copies of the root key (see sealer/seal_record.py for the layout): which token opens
which wrapping, getting the root key back, writing new wrappings, and the two batches (stage, commit)
every rotation and migration is made of. Each function that writes does so in one atomic batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from engine.crypto import constant_time_equal
from engine.storage.base import BatchOp, Delete, Put, Storage
from sealer.seal_record import (
    SEAL_RECORD_KEY,
    WRAPPED_RECOVERY_KEY,
    Change,
    KeyRef,
    SealRecord,
    Wrapping,
)
from sealer.seals import envelopes
from sealer.seals.base import SealKeyInvalid, SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet

log = logging.getLogger("sealer.seal")


@dataclass(frozen=True)
class Candidate:
    """A stored wrapping one configured token can try, and the session (key labels) that opens it."""

    wrapping: Wrapping
    seal: Pkcs11Seal
    # Reached through `supersedes`: the configuration still names a key that was rotated away.
    renamed: bool = False


@dataclass(frozen=True)
class Unwrapped:
    root_key: bytes = field(repr=False)


def names_token(token: Pkcs11Seal, label: str | None, serial: str | None) -> bool:
    settings = token.settings
    return (settings.token_label is not None and settings.token_label == label) or (
        settings.token_serial is not None and settings.token_serial == serial
    )


def candidates(record: SealRecord, tokens: TokenSet, token: Pkcs11Seal) -> list[Candidate]:
    """The wrappings `token` (as configured) may open: active ones first, then staged ones."""
    key_label = token.settings.key_label
    found: list[Candidate] = []
    for wrapping in sorted(record.wrappings, key=lambda w: w.staged):
        if wrapping.kind != token.type:
            continue
        if names_token(token, wrapping.token_label, wrapping.token_serial) and wrapping.key_label == key_label:
            found.append(Candidate(wrapping, token))
        elif any(names_token(token, ref.token_label, ref.token_serial) and ref.key_label == key_label
                 for ref in wrapping.supersedes):
            moved = not names_token(token, wrapping.token_label, wrapping.token_serial)
            seal = tokens.variant(token, wrapping.key_label or key_label,
                                  wrapping.hmac_key_label or token.settings.hmac_key_label,
                                  wrapping.token_label if moved else None)
            found.append(Candidate(wrapping, seal, renamed=True))
    return found


def active_candidate(record: SealRecord, tokens: TokenSet, token: Pkcs11Seal) -> Candidate | None:
    return next((c for c in candidates(record, tokens, token) if not c.wrapping.staged), None)


def _no_wrapping(record: SealRecord, token: Pkcs11Seal) -> str:
    stored = [f"key '{w.key_label}' on token '{w.token_label}'" for w in record.active("pkcs11")]
    return (f"no wrapping of the root key under key '{token.settings.key_label}' of this token "
            f"(the store has: {', '.join(stored) or 'none'})")


async def stored(storage: Storage, key: str) -> bytes:
    value = await storage.get(key)
    if value is None:
        raise SealUnavailable(f"storage has no '{key}': the store is damaged or belongs to another seal")
    return value


async def unwrap_with_tokens(storage: Storage, record: SealRecord, tokens: TokenSet) -> Unwrapped:
    """The root key from the first token, in priority order, that opens one of its wrappings.
    SealUnavailable naming every token's failure if none does; each token's health is updated."""
    failures: list[str] = []
    for token in tokens.tokens:
        health = tokens.health[token.name]
        # A token that would not open says why; one that opened but holds no wrapping says that.
        error = health.error if not token.is_open and health.error else _no_wrapping(record, token)
        for candidate in candidates(record, tokens, token):
            try:
                await candidate.seal.open()
                blob = await stored(storage, candidate.wrapping.path)
                root_key = await candidate.seal.unwrap(blob, record.root_key_aad)
            except (SealUnavailable, SealKeyInvalid) as exc:
                error = str(exc)
                continue
            tokens.health[token.name].record(None)
            if candidate.renamed:
                warn_renamed(token, candidate.wrapping)
            return Unwrapped(root_key)
        tokens.health[token.name].record(error)
        failures.append(f"token {token.name}: {error}")
        log.warning("token %s cannot unwrap the root key: %s", token.name, error)
    raise SealUnavailable(f"no {tokens.noun} could unwrap the root key: " + "; ".join(failures))


def warn_renamed(token: Pkcs11Seal, wrapping: Wrapping) -> None:
    log.warning(
        "token %s: the configuration names key '%s', which was rotated to key '%s' (HMAC key '%s') on token "
        "'%s'; using the new key. Update key_label, hmac_key_label and token_label in the configuration",
        token.name, token.settings.key_label, wrapping.key_label, wrapping.hmac_key_label, wrapping.token_label,
    )


async def unwrap_shamir(storage: Storage, record: SealRecord, unseal_key: bytes, *, staged: bool = False) -> bytes:
    wrappings = [w for w in record.wrappings if w.kind == "shamir" and w.staged == staged]
    if not wrappings:
        raise SealUnavailable("the store has no shamir wrapping of the root key")
    return envelopes.unwrap_shamir(unseal_key, await stored(storage, wrappings[0].path), record.root_key_aad)


async def wrap_under_token(seal: Pkcs11Seal, record: SealRecord, root_key: bytes, *,
                           staged: bool = False, supersedes: tuple[KeyRef, ...] = ()) -> tuple[Wrapping, Put]:
    await seal.open()
    blob = await seal.wrap(root_key, record.root_key_aad)
    wrapping = Wrapping.new(
        seal.type, staged=staged, token_label=seal.token_label, token_serial=seal.token_serial,
        key_label=seal.settings.key_label, hmac_key_label=seal.settings.hmac_key_label, supersedes=supersedes,
    )
    return wrapping, Put(wrapping.path, blob)


def wrap_under_shamir(unseal_key: bytes, record: SealRecord, root_key: bytes, *,
                      staged: bool = False) -> tuple[Wrapping, Put]:
    wrapping = Wrapping.new("shamir", staged=staged)
    return wrapping, Put(wrapping.path, envelopes.wrap_shamir(unseal_key, root_key, record.root_key_aad))


async def recovery_key(storage: Storage, record: SealRecord, root_key: bytes) -> bytes:
    blob = await stored(storage, WRAPPED_RECOVERY_KEY)
    return envelopes.unwrap_recovery_key(root_key, blob, record.installation_bytes, record.recovery_key_aad)


def recovery_put(record: SealRecord, root_key: bytes, recovery: bytes) -> Put:
    return Put(WRAPPED_RECOVERY_KEY, envelopes.wrap_recovery_key(
        root_key, recovery, record.installation_bytes, record.recovery_key_aad))


async def verify(storage: Storage, record: SealRecord, wrapping: Wrapping, root_key: bytes, *,
                 seal: Pkcs11Seal | None = None, unseal_key: bytes | None = None) -> None:
    """Read a wrapping back from storage and open it: proof that it holds this root key."""
    blob = await stored(storage, wrapping.path)
    if seal is not None:
        found = await seal.unwrap(blob, record.root_key_aad)
    else:
        assert unseal_key is not None
        found = envelopes.unwrap_shamir(unseal_key, blob, record.root_key_aad)
    if not constant_time_equal(found, root_key):
        raise SealKeyInvalid(f"wrapping {wrapping.id} does not hold this installation's root key")


async def stage(storage: Storage, record: SealRecord, new: Sequence[tuple[Wrapping, Put]],
                change: Change) -> SealRecord:
    """Batch 1 of 2: write `new` (staged) next to the wrappings in force, replacing whatever an
    interrupted earlier attempt had staged. The store still unseals exactly as before."""
    leftovers = record.staged()
    kept = [w for w in record.wrappings if not w.staged]
    staged = [replace(w, staged=True) for w, _ in new]
    updated = record.with_wrappings([*kept, *staged], change=change)
    ops: list[BatchOp] = [put for _, put in new]
    ops += [Delete(w.path) for w in leftovers]
    await storage.batch([*ops, Put(SEAL_RECORD_KEY, updated.to_bytes())])
    return updated


async def commit(storage: Storage, record: SealRecord, retire: Sequence[Wrapping],
                 extra: Sequence[BatchOp] = (), **changes: object) -> SealRecord:
    """Batch 2 of 2: the staged wrappings come into force, `retire` goes, with `extra` ops and record
    `changes` (seal type, share counts, ...) in the same batch."""
    gone = {w.id for w in retire}
    wrappings = [replace(w, staged=False) for w in record.wrappings if w.id not in gone]
    updated = record.with_wrappings(wrappings, change=None, **changes)
    await storage.batch([*extra, *(Delete(w.path) for w in retire), Put(SEAL_RECORD_KEY, updated.to_bytes())])
    return updated


async def abandon(storage: Storage, record: SealRecord) -> SealRecord:
    """Drop what an interrupted change staged; the wrappings in force are untouched."""
    staged = record.staged()
    updated = record.with_wrappings([w for w in record.wrappings if not w.staged], change=None)
    await storage.batch([*(Delete(w.path) for w in staged), Put(SEAL_RECORD_KEY, updated.to_bytes())])
    return updated


async def add_active(storage: Storage, record: SealRecord, new: tuple[Wrapping, Put]) -> SealRecord:
    wrapping, put = new
    updated = record.with_wrappings([*record.wrappings, wrapping])
    await storage.batch([put, Put(SEAL_RECORD_KEY, updated.to_bytes())])
    return updated


async def remove(storage: Storage, record: SealRecord, wrapping: Wrapping) -> SealRecord:
    updated = record.with_wrappings([w for w in record.wrappings if w.id != wrapping.id])
    await storage.batch([Delete(wrapping.path), Put(SEAL_RECORD_KEY, updated.to_bytes())])
    return updated
