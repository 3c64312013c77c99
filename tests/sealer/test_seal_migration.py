"""Seal migration in process, against real storage, barrier and SoftHSM: shamir -> pkcs11 and back,
Vault's `migrate` rules on sys/unseal, and what an interrupted migration leaves."""

from __future__ import annotations

import pytest

from engine.crypto import combine
from engine.errors import BadRequest
from engine.request import Op, Request
from engine.storage.memory import MemoryStorage
from sealer import seal_wrappings as wrappings
from sealer.seal_manager import InitRequest, SealManager
from sealer.seal_record import BREAK_GLASS_KEY, WRAPPED_RECOVERY_KEY, Change, SealRecord
from sealer.seals.base import SealOptions
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.shamir import ShamirSeal
from sealer.seals.tokens import TokenSet
from tests.softhsm import SoftHsmToken


def pkcs11(token: SoftHsmToken) -> Pkcs11Seal:
    return Pkcs11Seal(token.pkcs11_settings(), name="hsm")


async def secret(manager: SealManager, token: str, value: str | None = None) -> object:
    core = manager.active_core()
    if value is not None:
        await core.handle(Request(Op.UPDATE, "secret/app", {"v": value}, client_token=token))
    response = await core.handle(Request(Op.READ, "secret/app", client_token=token))
    assert response is not None and response.data is not None
    return response.data["v"]


async def record_of(storage: MemoryStorage) -> SealRecord:
    raw = await storage.get("core/seal-config")
    assert raw is not None
    return SealRecord.from_bytes(raw)


async def shamir_store(storage: MemoryStorage) -> tuple[list[str], str]:
    manager = SealManager(storage, ShamirSeal())
    init = await manager.initialize(InitRequest(secret_shares=3, secret_threshold=2))
    shares = [key.hex() for key in init.keys]
    for share in shares[:2]:
        await manager.submit_share(share, reset=False)
    await secret(manager, init.root_token, "kept")
    return shares, init.root_token


async def test_shamir_to_pkcs11_and_the_unseal_shares_become_recovery_shares(softhsm_token) -> None:
    storage = MemoryStorage()
    shares, root_token = await shamir_store(storage)
    old_wrapping = (await record_of(storage)).active()[0]

    manager = SealManager(storage, pkcs11(softhsm_token))
    status = await manager.status()
    assert (status["migration"], status["type"], status["t"], status["recovery_seal"]) == (True, "shamir", 2, False)
    assert await manager.auto_unseal() is False and manager.sealed
    with pytest.raises(BadRequest, match="migrate option not provided and seal migration is pending"):
        await manager.submit_share(shares[0], reset=False)
    assert (await manager.status())["progress"] == 0

    await manager.submit_share(shares[2], reset=False, migrate=True)
    status = await manager.submit_share(shares[0], reset=False, migrate=True)
    assert status["sealed"] is False and status["migration"] is False and status["type"] == "pkcs11"
    assert await secret(manager, root_token) == "kept"
    record = await record_of(storage)
    assert (record.type, record.recovery_shares, record.recovery_threshold) == ("pkcs11", 3, 2)
    assert [w.kind for w in record.wrappings] == ["pkcs11"] and record.change is None
    assert await storage.get(old_wrapping.path) is None
    # The old unseal shares now prove the recovery key.
    await manager.key_from_shares([bytes.fromhex(s) for s in shares[:2]])
    await manager.seal_now()
    with pytest.raises(BadRequest, match="no migration seal found"):
        await manager.submit_share(shares[0], reset=False, migrate=True)
    await manager.seal.close()

    restarted = SealManager(storage, pkcs11(softhsm_token))
    assert await restarted.auto_unseal() is True
    assert await secret(restarted, root_token) == "kept"
    await restarted.seal.close()


async def test_pkcs11_to_shamir_and_the_recovery_shares_become_unseal_shares(softhsm_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, pkcs11(softhsm_token), options=SealOptions(break_glass=True))
    init = await first.initialize(InitRequest(recovery_shares=3, recovery_threshold=2))
    await secret(first, init.root_token, "kept")
    await first.seal.close()
    recovery = [key.hex() for key in init.recovery_keys]

    manager = SealManager(storage, ShamirSeal(), migrate_from=pkcs11(softhsm_token))
    status = await manager.status()
    assert (status["migration"], status["type"], status["recovery_seal"]) == (True, "pkcs11", True)
    await manager.submit_share(recovery[1], reset=False, migrate=True)
    status = await manager.submit_share(recovery[2], reset=False, migrate=True)
    assert status["sealed"] is False and status["type"] == "shamir"
    record = await record_of(storage)
    assert (record.type, record.secret_shares, record.secret_threshold) == ("shamir", 3, 2)
    assert [w.kind for w in record.wrappings] == ["shamir"] and not record.break_glass
    assert await storage.get(WRAPPED_RECOVERY_KEY) is None and await storage.get(BREAK_GLASS_KEY) is None
    await manager.seal.close()

    shamir = SealManager(storage, ShamirSeal())
    await shamir.submit_share(recovery[0], reset=False)
    assert (await shamir.submit_share(recovery[1], reset=False))["sealed"] is False
    assert await secret(shamir, init.root_token) == "kept"


async def test_wrong_shares_change_nothing(softhsm_token) -> None:
    storage = MemoryStorage()
    await shamir_store(storage)
    before = await storage.get("core/seal-config")
    other_storage = MemoryStorage()
    other_shares, _ = await shamir_store(other_storage)
    manager = SealManager(storage, pkcs11(softhsm_token))
    await manager.submit_share(other_shares[0], reset=False, migrate=True)
    with pytest.raises(BadRequest, match="unseal key is not the one"):
        await manager.submit_share(other_shares[1], reset=False, migrate=True)
    assert manager.sealed and await storage.get("core/seal-config") == before
    await manager.seal.close()


async def test_a_store_sealed_by_a_seal_the_config_does_not_name_says_so(softhsm_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, pkcs11(softhsm_token))
    init = await first.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    await first.seal.close()
    manager = SealManager(storage, ShamirSeal())
    status = await manager.status()
    assert "disabled: true" in status["seal_error"]
    with pytest.raises(BadRequest, match="does not name"):
        await manager.submit_share(init.recovery_keys[0].hex(), reset=False, migrate=True)


async def test_a_migration_abandoned_before_its_commit_is_dropped_by_the_old_seal(softhsm_token) -> None:
    storage = MemoryStorage()
    shares, root_token = await shamir_store(storage)
    # What a crash after the staging batch leaves: a pkcs11 wrapping staged on a shamir store.
    record = await record_of(storage)
    root_key = await wrappings.unwrap_shamir(storage, record, combine([bytes.fromhex(s) for s in shares[:2]]))
    tokens = TokenSet([pkcs11(softhsm_token)])
    await tokens.open()
    staged = await wrappings.wrap_under_token(tokens.tokens[0], record, root_key, staged=True)
    await wrappings.stage(storage, record, [staged], Change("migrate", "pkcs11"))
    await tokens.close()

    # The operator goes back to the shamir configuration: the old shares unseal, the staging goes.
    old = SealManager(storage, ShamirSeal())
    await old.submit_share(shares[1], reset=False)
    assert (await old.submit_share(shares[2], reset=False))["sealed"] is False
    assert await secret(old, root_token) == "kept"
    after = await record_of(storage)
    assert after.staged() == [] and after.change is None and await storage.get(staged[0].path) is None


async def test_break_glass_is_stored_by_a_migration_to_pkcs11_when_configured(softhsm_token) -> None:
    storage = MemoryStorage()
    shares, _ = await shamir_store(storage)
    manager = SealManager(storage, pkcs11(softhsm_token), options=SealOptions(break_glass=True))
    for share in shares[:2]:
        await manager.submit_share(share, reset=False, migrate=True)
    assert (await record_of(storage)).break_glass and await storage.get(BREAK_GLASS_KEY) is not None
    await manager.seal.close()
