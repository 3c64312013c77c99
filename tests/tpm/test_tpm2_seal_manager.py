"""The tpm2 seal through the seal manager: init, unseal on the next start, staying sealed (and saying why)
after a PCR change, and tpm-reseal with recovery shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from engine.errors import BadRequest
from engine.storage.memory import MemoryStorage
from sealer.config import Tpm2SealConfig
from sealer.seal_manager import InitRequest, SealManager
from sealer.seal_record import SEAL_RECORD_KEY, SealRecord
from sealer.seal_tpm_reseal import TpmReseal
from sealer.seals.base import SealOptions, SealUnavailable
from sealer.seals.factory import make_seal
from sealer.seals.shamir import ShamirSeal
from tests.tpm.swtpm import SwTpm

PCRS = "sha256:4,5"
Start = Callable[[], SealManager]


@pytest.fixture
async def store(swtpm: SwTpm) -> AsyncIterator[tuple[MemoryStorage, Start, list[str]]]:
    """A tpm2-sealed store, and a way to start a daemon's seal manager on it (closed at the end)."""
    storage = MemoryStorage()
    started: list[SealManager] = []

    def start() -> SealManager:
        seal = make_seal(Tpm2SealConfig(tcti=swtpm.tcti, pcrs=PCRS))
        manager = SealManager(storage, seal, options=SealOptions(break_glass=True))
        started.append(manager)
        return manager

    init = await start().initialize(InitRequest(recovery_shares=3, recovery_threshold=2))
    yield storage, start, [key.hex() for key in init.recovery_keys]
    for manager in started:
        await manager.seal.close()


async def _record(storage: MemoryStorage) -> SealRecord:
    raw = await storage.get(SEAL_RECORD_KEY)
    assert raw is not None
    return SealRecord.from_bytes(raw)


async def test_init_seals_to_the_tpm_and_the_next_start_unseals_itself(store) -> None:
    storage, start, _ = store
    record = await _record(storage)
    assert record.type == "tpm2" and record.break_glass
    assert [w.kind for w in record.active()] == ["tpm2"]
    manager = start()
    assert await manager.auto_unseal() is True
    status = await manager.status()
    assert status["type"] == "tpm2" and status["recovery_seal"] is True
    assert status["seals"][0]["healthy"] is True


async def test_after_a_pcr_change_it_stays_sealed_naming_the_pcr_and_reseal_brings_it_back(store, swtpm) -> None:
    storage, start, recovery = store
    swtpm.extend_pcr(5)
    manager = start()
    with pytest.raises(SealUnavailable) as caught:
        await manager.auto_unseal()
    assert manager.sealed
    for said in (str(caught.value), (await manager.status())["seal_error"]):
        assert "no TPM could unwrap the root key" in said
        assert "changed: sha256:5" in said and "sealer operator tpm-reseal" in said
    old = (await _record(storage)).active()

    reseal = TpmReseal(manager)
    first = await reseal.submit(recovery[0], "")
    assert first["progress"] == 1 and first["required"] == 2 and first["nonce"]
    done = await reseal.submit(recovery[2], first["nonce"])
    assert done["complete"] is True and done["sealed"] is False and not manager.sealed
    new = (await _record(storage)).active()
    assert len(new) == 1 and new[0].id != old[0].id and await storage.get(old[0].path) is None
    # The next start unseals itself in the new boot state.
    assert await start().auto_unseal() is True


async def test_wrong_recovery_shares_change_nothing(store, swtpm) -> None:
    storage, start, recovery = store
    swtpm.extend_pcr(4)
    before = await _record(storage)
    reseal = TpmReseal(start())
    first = await reseal.submit(recovery[0], "")
    with pytest.raises(BadRequest, match="nonce does not match"):
        await reseal.submit(recovery[1], "not-the-nonce")
    assert reseal.progress.count == 1
    with pytest.raises(BadRequest, match="already provided"):
        await reseal.submit(recovery[0], first["nonce"])
    # A forged share (our share's x, other y bytes) combines to a key that is not this store's recovery key.
    share = bytes.fromhex(recovery[1])
    forged = bytes(byte ^ 0x5A for byte in share[:-1]) + share[-1:]
    with pytest.raises(BadRequest, match="not match this installation's recovery key; tpm-reseal progress was reset"):
        await reseal.submit(forged.hex(), first["nonce"])
    assert await _record(storage) == before and reseal.progress.count == 0


async def test_reseal_is_refused_for_another_seal() -> None:
    manager = SealManager(MemoryStorage(), ShamirSeal())
    with pytest.raises(BadRequest, match="applies to the tpm2 seal; this daemon's seal is shamir"):
        await TpmReseal(manager).status()


async def test_a_damaged_tpm_wrapping_keeps_it_sealed_and_says_so(store) -> None:
    storage, start, _ = store
    wrapping = (await _record(storage)).active()[0]
    await storage.put(wrapping.path, b"not a tpm2 wrapping")
    manager = start()
    with pytest.raises(SealUnavailable, match="the stored TPM wrapping is damaged or not a tpm2 wrapping"):
        await manager.auto_unseal()
    assert manager.sealed
