"""Re-sealing the root key to the TPM in its current boot state (`sealer operator tpm-reseal`, PUT
sys/sealer/seal/tpm-reseal), once a threshold of recovery shares agree.

After a PCR change (a new kernel, firmware or boot chain) the TPM no longer unseals the stored wrapping and
the daemon stays sealed. The tpm2 seal always keeps the root key also under the recovery key (break-glass,
sealer/seal_break_glass.py), so the recovery shares rebuild the recovery key, which opens that copy; the
root key is then sealed to the TPM under the configured PCRs as they are now, read back through the TPM,
and replaces the old wrapping in one atomic batch. The daemon then unseals through the new wrapping, the
same way every later start will.

Shares are collected like sys/unseal's, in one attempt identified by a nonce: the first share starts it,
every later share must carry its nonce, and a reset (or a completed reseal) ends it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from engine.crypto import constant_time_equal
from engine.errors import BadRequest
from engine.storage.base import Delete, Put, Storage
from sealer import seal_break_glass as break_glass
from sealer import seal_shares as shares_
from sealer import seal_wrappings as wrappings
from sealer.seal_manager import SealManager, SealUnavailableError
from sealer.seal_record import SEAL_RECORD_KEY, SealRecord
from sealer.seals.base import SealKeyInvalid, SealUnavailable
from sealer.seals.tpm2 import Tpm2Seal
from sealer.shares import decode_share
from sealer.unseal_progress import UnsealProgress

log = logging.getLogger("sealer.seal")


@dataclass
class TpmReseal:
    """The reseal attempt in progress on one daemon (one per HTTP application)."""

    manager: SealManager
    progress: UnsealProgress = field(default_factory=UnsealProgress)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def _seal(self) -> Tpm2Seal:
        seal = self.manager.seal
        if not isinstance(seal, Tpm2Seal):
            raise BadRequest(f"tpm-reseal applies to the tpm2 seal; this daemon's seal is {seal.type}")
        return seal

    async def _record(self) -> SealRecord:
        record = await self.manager.record()
        if record is None:
            raise BadRequest("Vault is not initialized")
        if record.type != "tpm2":
            raise BadRequest(f"the store is sealed by the {record.type} seal, not by the TPM")
        return record

    async def status(self) -> dict[str, Any]:
        seal = self._seal()
        record = await self._record()
        return {
            "started": self.progress.count > 0,
            "nonce": self.progress.nonce,
            "progress": self.progress.count,
            "required": record.recovery_threshold,
            "pcrs": str(seal.device.pcrs) if seal.device.pcrs is not None else "",
            "sealed": self.manager.sealed,
            "complete": False,
        }

    async def cancel(self) -> dict[str, Any]:
        async with self._lock:
            self.progress.reset()
            return await self.status()

    async def submit(self, key: str, nonce: str) -> dict[str, Any]:
        """One recovery share; at the threshold, the reseal. Refused input changes nothing."""
        async with self._lock:
            seal = self._seal()
            record = await self._record()
            if self.progress.count and not constant_time_equal(nonce.encode(), self.progress.nonce.encode()):
                raise BadRequest("nonce does not match the tpm-reseal in progress (GET sys/sealer/seal/tpm-reseal "
                                 "shows it; DELETE cancels it)")
            count, threshold, length = self.manager.share_rules(record)
            self.progress.add(decode_share(key), length)
            log.info("tpm-reseal: recovery key %d of %d accepted", self.progress.count, threshold)
            if self.progress.count < threshold:
                return await self.status()
            offered = self.progress.shares
            self.progress.reset()
            recovery_key = shares_.combine(offered, count)
            try:
                unsealed = await self.manager.change_sealed(
                    lambda current: reseal(self.manager.storage, current, seal, recovery_key))
            except SealKeyInvalid as exc:
                log.warning("tpm-reseal failed: %s", exc)
                raise BadRequest(f"{exc}; tpm-reseal progress was reset") from None
            except SealUnavailable as exc:
                raise SealUnavailableError(str(exc)) from exc
            return {**await self.status(), "complete": True, "sealed": not unsealed}


async def reseal(storage: Storage, record: SealRecord, seal: Tpm2Seal, recovery_key: bytes) -> SealRecord:
    """Seal the root key to the TPM as it is now, replacing the stored TPM wrapping; the new record."""
    if not record.break_glass:
        raise SealUnavailable("this store keeps no copy of the root key under the recovery key, so recovery "
                              "shares cannot re-seal it")
    try:
        root_key = await break_glass.open_with(storage, record, recovery_key)
    except SealKeyInvalid:
        raise SealKeyInvalid("the recovery keys do not match this installation's recovery key") from None
    device = seal.device
    await seal.open_token(device)
    wrapping, put = await wrappings.wrap_under_token(device, record, root_key)
    # Read back through the TPM before anything is replaced: the next start unseals exactly this way.
    if not constant_time_equal(await device.unwrap(put.value, record.root_key_aad), root_key):
        raise SealKeyInvalid("the TPM's new wrapping does not give the root key back; nothing was changed")
    retired = record.active(device.type)
    updated = record.with_wrappings([*(w for w in record.wrappings if w not in retired), wrapping])
    await storage.batch([put, *(Delete(w.path) for w in retired), Put(SEAL_RECORD_KEY, updated.to_bytes())])
    seal.health[device.name].record(None)
    log.warning("tpm-reseal: the root key is now sealed to the TPM's current state (PCRs %s; wrapping %s "
                "replaces %s)", device.pcrs or "none", wrapping.id, ", ".join(w.id for w in retired) or "none")
    return updated


__all__ = ["TpmReseal", "reseal"]
