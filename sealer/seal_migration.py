"""Seal migration, shamir -> pkcs11 and pkcs11 -> shamir, as Vault does it: the old seal stays in the
configuration marked `disabled: true` (shamir needs no block at all), the daemon starts sealed, and
the old seal's shares (unseal shares, or recovery shares) are submitted to sys/unseal with
`migrate: true`. The key they rebuild carries over: unseal shares become recovery shares, and
recovery shares become unseal shares, so nobody's share changes.

Steps, each ending in a crash point (sealer/crash_points.py), and what a kill there leaves:

    migrate-proven     shares proven against the old seal       nothing written: old seal
    migrate-staged     new wrappings staged next to the old     old seal; re-running restages
    migrate-verified   staged wrappings read back and opened    old seal
    migrate-committed  one batch: new seal in force, old gone   new seal

Before the commit the record still names the old seal: a restart with the same configuration asks
for the old shares again (`migrate: true`) and resumes; a restart with the old configuration
unseals as before and drops what was staged. After it, the new seal unseals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from engine.crypto import constant_time_equal
from engine.storage.base import BatchOp, Delete, Storage
from sealer import seal_break_glass as break_glass
from sealer import seal_wrappings as wrappings
from sealer.crash_points import crash_point
from sealer.seal_record import (
    BREAK_GLASS_KEY,
    WRAPPED_RECOVERY_KEY,
    Change,
    SealRecord,
    now_text,
)
from sealer.seal_wrappings import Unwrapped
from sealer.seals.base import SealKeyInvalid, SealOptions, SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet

log = logging.getLogger("sealer.seal")

STEPS = ("migrate-proven", "migrate-staged", "migrate-verified", "migrate-committed")


@dataclass(frozen=True)
class Plan:
    source: str  # the seal type the store is sealed with
    target: str  # the seal type the configuration has in force
    source_tokens: TokenSet | None = None  # the disabled pkcs11 block, to migrate away from it


async def prove(storage: Storage, record: SealRecord, plan: Plan, key: bytes) -> Unwrapped:
    """The root key, from the old seal and the key its shares rebuild. SealKeyInvalid if they do not fit."""
    if plan.source == "shamir":
        return Unwrapped(await wrappings.unwrap_shamir(storage, record, key))
    assert plan.source_tokens is not None
    await plan.source_tokens.try_open()
    found = await wrappings.unwrap_with_tokens(storage, record, plan.source_tokens)
    stored = await wrappings.recovery_key(storage, record, found.root_key)
    if not constant_time_equal(stored, key):
        raise SealKeyInvalid("the recovery keys do not match this installation's recovery key")
    return found


async def migrate(storage: Storage, record: SealRecord, plan: Plan, key: bytes, root_key: bytes,
                  target: TokenSet | None, options: SealOptions) -> SealRecord:
    """Stage, verify and commit. Returns the committed record."""
    log.info("seal migration from %s to %s: staging the new wrapping of the root key", plan.source, plan.target)
    seals: dict[str, Pkcs11Seal] = {}
    if plan.target == "pkcs11":
        assert target is not None
        new = await _wrap_under_tokens(record, target, root_key, seals)
    else:
        new = [wrappings.wrap_under_shamir(key, record, root_key, staged=True)]
    record = await wrappings.stage(storage, record, new, Change("migrate", plan.target, now_text()))
    crash_point("migrate-staged")

    for wrapping in record.staged():
        await wrappings.verify(storage, record, wrapping, root_key, seal=seals.get(wrapping.id), unseal_key=key)
    log.info("seal migration from %s to %s: %d staged wrapping(s) read back and verified",
             plan.source, plan.target, len(record.staged()))
    crash_point("migrate-verified")

    extra: list[BatchOp]
    if plan.target == "pkcs11":
        # Vault's rule: the old unseal key becomes the recovery key, so the unseal shares now recover.
        extra = [wrappings.recovery_put(record, root_key, key)]
        if options.break_glass:
            extra.append(break_glass.store(record, key, root_key))
        record = await wrappings.commit(
            storage, record, record.active(), extra, type="pkcs11",
            recovery_shares=record.secret_shares, recovery_threshold=record.secret_threshold,
            secret_shares=1, secret_threshold=1, break_glass=options.break_glass,
        )
    else:
        # And the other way: the recovery key becomes the unseal key.
        extra = [Delete(WRAPPED_RECOVERY_KEY), Delete(BREAK_GLASS_KEY)]
        record = await wrappings.commit(
            storage, record, record.active(), extra, type="shamir",
            secret_shares=record.recovery_shares, secret_threshold=record.recovery_threshold,
            recovery_shares=0, recovery_threshold=0, break_glass=False,
        )
    log.info("seal migration from %s to %s committed: the %s seal is now in force", plan.source, plan.target,
             plan.target)
    crash_point("migrate-committed")
    return record


async def _wrap_under_tokens(record: SealRecord, target: TokenSet, root_key: bytes,
                             seals: dict[str, Pkcs11Seal]) -> list:
    await target.open()
    new = []
    for token in target.tokens:
        if not token.is_open:
            log.warning("seal migration: token %s is not usable now; it gets its wrapping when it answers",
                        token.name)
            continue
        try:
            wrapping, put = await wrappings.wrap_under_token(token, record, root_key, staged=True)
        except SealUnavailable as exc:
            target.health[token.name].record(str(exc))
            log.warning("seal migration: token %s could not wrap the root key: %s", token.name, exc)
            continue
        seals[wrapping.id] = token
        new.append((wrapping, put))
    if not new:
        raise SealUnavailable("no PKCS#11 token could wrap the root key; nothing was changed")
    return new
