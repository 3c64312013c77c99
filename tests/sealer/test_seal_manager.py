"""The seal state machine against real storage, a real barrier and a real SoftHSM token."""

from __future__ import annotations

import pytest

from engine.errors import BadRequest, Sealed
from engine.storage.base import Put
from engine.storage.memory import MemoryStorage
from hsm import Pkcs11Settings
from sealer.seal_manager import InitRequest, SealManager, SealUnavailableError
from sealer.seal_record import ROOT_KEY_PREFIX, SEAL_RECORD_KEY
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.shamir import ShamirSeal


def pkcs11_seal(token, **overrides) -> Pkcs11Seal:
    settings = {"lib": token.lib, "pin": token.pin, "token_label": token.label, "generate_key": True}
    return Pkcs11Seal(Pkcs11Settings(**{**settings, **overrides}))


async def test_shamir_init_then_unseal_with_any_threshold_subset() -> None:
    storage = MemoryStorage()
    manager = SealManager(storage, ShamirSeal())
    result = await manager.initialize(InitRequest(secret_shares=4, secret_threshold=2))
    assert manager.sealed  # Vault leaves a shamir store sealed after init
    token = result.root_token
    for first, second in [(0, 1), (2, 3), (3, 0)]:
        await manager.submit_share(result.keys[first].hex(), reset=False)
        status = await manager.submit_share(result.keys[second].hex(), reset=False)
        assert status["sealed"] is False
        assert await manager.core.is_root_token(token)
        await manager.seal_now()
        assert manager.sealed
        with pytest.raises(Sealed):
            manager.active_core()


async def test_pkcs11_init_auto_unseals_and_a_new_manager_unseals_alone(softhsm_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, pkcs11_seal(softhsm_token))
    result = await first.initialize(InitRequest(recovery_shares=3, recovery_threshold=2))
    assert not first.sealed
    assert result.keys == [] and len(result.recovery_keys) == 3
    await first.seal.close()

    second = SealManager(storage, pkcs11_seal(softhsm_token))
    assert await second.auto_unseal() is True
    assert await second.core.is_root_token(result.root_token)
    await second.seal.close()


async def test_pkcs11_operator_seal_needs_recovery_keys(softhsm_token) -> None:
    manager = SealManager(MemoryStorage(), pkcs11_seal(softhsm_token))
    result = await manager.initialize(InitRequest(recovery_shares=3, recovery_threshold=2))
    await manager.seal_now()
    assert await manager.auto_unseal() is False  # an operator's seal is not undone by itself
    await manager.submit_share(result.recovery_keys[0].hex(), reset=False)
    with pytest.raises(BadRequest, match="recovery keys do not match"):
        await manager.submit_share(bytes(33).hex(), reset=False)
    await manager.submit_share(result.recovery_keys[2].hex(), reset=False)
    status = await manager.submit_share(result.recovery_keys[1].hex(), reset=False)
    assert status["sealed"] is False
    await manager.seal.close()


async def test_a_different_token_key_cannot_unseal(softhsm_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, pkcs11_seal(softhsm_token))
    await first.initialize(InitRequest())
    await first.seal.close()
    other = SealManager(storage, pkcs11_seal(softhsm_token, key_label="another-wrap-key"))
    with pytest.raises(Exception, match="another-wrap-key"):
        await other.auto_unseal()
    assert other.sealed and "another-wrap-key" in (other.seal_error or "")
    await other.seal.close()


async def test_pkcs11_refuses_secret_shares() -> None:
    manager = SealManager(MemoryStorage(), pkcs11_seal_unopened())
    with pytest.raises(BadRequest, match="not applicable to seal type pkcs11"):
        await manager.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    assert not await manager.initialized()


def pkcs11_seal_unopened() -> Pkcs11Seal:
    return Pkcs11Seal(Pkcs11Settings(lib="/nonexistent/module.so", pin="x", token_label="none"))


async def test_init_with_an_unreachable_token_is_a_503_and_changes_nothing() -> None:
    storage = MemoryStorage()
    manager = SealManager(storage, pkcs11_seal_unopened())
    with pytest.raises(SealUnavailableError, match="module"):
        await manager.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    assert await storage.list("") == []


async def test_interrupted_init_leftovers_are_cleared() -> None:
    storage = MemoryStorage()
    # What an init that died before its final batch leaves: a keyring and a wrapped key, no record.
    await storage.batch([Put("core/keyring", b"junk"), Put(ROOT_KEY_PREFIX + "w-junk", b"junk")])
    manager = SealManager(storage, ShamirSeal())
    result = await manager.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    assert await storage.get(SEAL_RECORD_KEY) is not None
    status = await manager.submit_share(result.keys[0].hex(), reset=False)
    assert status["sealed"] is False


async def test_replacing_the_shared_key_retires_the_old_shares() -> None:
    manager = SealManager(MemoryStorage(), ShamirSeal())
    result = await manager.initialize(InitRequest(secret_shares=3, secret_threshold=2))
    proven = await manager.key_from_shares(result.keys[:2])
    new_shares = await manager.replace_shared_key(proven, shares=5, threshold=3)
    assert len(new_shares) == 5
    with pytest.raises(BadRequest):
        await manager.key_from_shares(result.keys[:2])
    for share in new_shares[2:]:
        status = await manager.submit_share(share.hex(), reset=False)
    assert status["sealed"] is False and status["t"] == 3 and status["n"] == 5


async def test_replacing_the_recovery_key(softhsm_token) -> None:
    manager = SealManager(MemoryStorage(), pkcs11_seal(softhsm_token))
    result = await manager.initialize(InitRequest(recovery_shares=3, recovery_threshold=2))
    proven = await manager.key_from_shares(result.recovery_keys[1:])
    fresh = await manager.replace_shared_key(proven, shares=1, threshold=1)
    with pytest.raises(BadRequest, match="do not match"):
        await manager.key_from_shares(result.recovery_keys[:2])
    assert await manager.key_from_shares(fresh) == fresh[0]
    await manager.seal.close()


async def test_init_delivers_the_secrets_before_the_daemon_reports_unsealed(softhsm_token) -> None:
    manager = SealManager(MemoryStorage(), pkcs11_seal(softhsm_token))
    seen: list[tuple[bool, str]] = []

    async def deliver(result) -> None:
        seen.append((manager.sealed, result.root_token))

    result = await manager.initialize(InitRequest(recovery_shares=1, recovery_threshold=1, deliver=deliver))
    assert seen == [(True, result.root_token)]  # handed over while health still said "sealed"
    assert not manager.sealed
