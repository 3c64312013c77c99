"""The pkcs11 seal over two SoftHSM tokens: the root key is wrapped under both, either one unseals (in
priority order), each token's health is reported, and a token that was missing gets its wrapping when
it appears."""

from __future__ import annotations

import uuid

import pytest

from engine.request import Op, Request
from engine.storage.memory import MemoryStorage
from hsm import Pkcs11Settings
from sealer.seal_manager import InitRequest, SealManager
from sealer.seals.base import SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet
from tests.softhsm import SoftHsmToken, make_token


@pytest.fixture
def second_token(softhsm: SoftHsmToken) -> SoftHsmToken:
    return make_token(softhsm.directory, f"b-{uuid.uuid4().hex[:10]}", softhsm.pin, softhsm.so_pin)


def token_seal(token: SoftHsmToken, name: str, priority: int, **overrides: object) -> Pkcs11Seal:
    return Pkcs11Seal(token.pkcs11_settings(**overrides), name=name, priority=priority)


def missing_seal(like: SoftHsmToken, name: str, priority: int, label: str | None = None) -> Pkcs11Seal:
    """A configured token that is not (yet) in the slot list."""
    label = label or f"gone-{uuid.uuid4().hex[:8]}"
    return Pkcs11Seal(Pkcs11Settings(lib=like.lib, pin=like.pin, token_label=label, generate_key=True),
                      name=name, priority=priority)


async def write_secret(manager: SealManager, token: str, value: str) -> None:
    await manager.active_core().handle(Request(Op.UPDATE, "secret/app", {"v": value}, client_token=token))


async def read_secret(manager: SealManager, token: str) -> object:
    response = await manager.active_core().handle(Request(Op.READ, "secret/app", client_token=token))
    assert response is not None and response.data is not None
    return response.data["v"]


async def test_wrapped_under_both_and_either_token_alone_unseals(softhsm_token, second_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, TokenSet([token_seal(softhsm_token, "a", 1), token_seal(second_token, "b", 2)]))
    init = await first.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    record = await first.record()
    assert record is not None
    assert sorted(w.token_label for w in record.active("pkcs11")) == sorted([softhsm_token.label, second_token.label])
    await write_secret(first, init.root_token, "both")
    await first.seal.close()

    # Token a is gone (its slot answers to nothing): b, second in priority, unseals.
    only_b = SealManager(storage, TokenSet([missing_seal(softhsm_token, "a", 1), token_seal(second_token, "b", 2)]))
    assert await only_b.auto_unseal() is True
    assert await read_secret(only_b, init.root_token) == "both"
    seals = {entry["name"]: entry for entry in (await only_b.status())["seals"]}
    assert seals["b"]["healthy"] is True and seals["b"]["wrapped"] is True
    assert seals["a"]["healthy"] is False and "no token" in seals["a"]["error"]
    await only_b.seal.close()

    # And the other way round: b gone, a unseals.
    only_a = SealManager(storage, TokenSet([token_seal(softhsm_token, "a", 1), missing_seal(second_token, "b", 2)]))
    assert await only_a.auto_unseal() is True
    assert await read_secret(only_a, init.root_token) == "both"
    await only_a.seal.close()


async def test_the_first_token_by_priority_is_used(softhsm_token, second_token, caplog) -> None:
    storage = MemoryStorage()
    setup = SealManager(storage, TokenSet([token_seal(softhsm_token, "a", 1), token_seal(second_token, "b", 2)]))
    await setup.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    await setup.seal.close()
    # b now has priority; a's key label no longer matches its wrapping, so if a were tried first and
    # failed we would see its error; with b first, a is never asked.
    tokens = TokenSet([token_seal(softhsm_token, "a", 2, key_label="not-the-key"), token_seal(second_token, "b", 1)])
    assert [t.name for t in tokens.tokens] == ["b", "a"]
    manager = SealManager(storage, tokens)
    caplog.set_level("WARNING", logger="sealer.seal")
    assert await manager.auto_unseal() is True
    assert "cannot unwrap" not in caplog.text
    await manager.seal.close()


async def test_no_token_answers_keeps_it_sealed_and_names_each_failure(softhsm_token, second_token) -> None:
    storage = MemoryStorage()
    setup = SealManager(storage, TokenSet([token_seal(softhsm_token, "a", 1), token_seal(second_token, "b", 2)]))
    await setup.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    await setup.seal.close()
    manager = SealManager(storage, TokenSet([missing_seal(softhsm_token, "a", 1), missing_seal(second_token, "b", 2)]))
    with pytest.raises(SealUnavailable) as failed:
        await manager.auto_unseal()
    assert manager.sealed
    assert "a:" in str(failed.value) and "b:" in str(failed.value)
    await manager.seal.close()


async def test_a_token_missing_at_init_is_wrapped_when_it_appears(softhsm, softhsm_token) -> None:
    storage = MemoryStorage()
    late_label = f"late-{uuid.uuid4().hex[:8]}"
    manager = SealManager(storage, TokenSet([token_seal(softhsm_token, "a", 1),
                                             missing_seal(softhsm_token, "late", 2, label=late_label)]))
    init = await manager.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    record = await manager.record()
    assert record is not None and len(record.active("pkcs11")) == 1
    status = {entry["name"]: entry for entry in (await manager.status())["seals"]}
    assert status["late"]["wrapped"] is False

    make_token(softhsm.directory, late_label, softhsm.pin, softhsm.so_pin)
    record = await manager.reconcile()
    assert sorted(w.token_label for w in record.active("pkcs11")) == sorted([softhsm_token.label, late_label])
    status = {entry["name"]: entry for entry in (await manager.status())["seals"]}
    assert status["late"]["wrapped"] is True and status["late"]["healthy"] is True
    await manager.seal.close()

    # The late token alone now unseals the store.
    alone = SealManager(storage, TokenSet([missing_seal(softhsm_token, "late", 1, label=late_label)]))
    assert await alone.auto_unseal() is True
    assert await alone.core.is_root_token(init.root_token)
    await alone.seal.close()


async def test_a_token_whose_key_no_longer_opens_its_wrapping_is_reported(softhsm_token, second_token) -> None:
    storage = MemoryStorage()
    manager = SealManager(storage, TokenSet([token_seal(softhsm_token, "a", 1), token_seal(second_token, "b", 2)]))
    await manager.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    record = await manager.record()
    assert record is not None
    # Swap the two tokens' blobs: each token's key now meets a blob it did not make.
    a, b = record.active("pkcs11")
    blob_a, blob_b = await storage.get(a.path), await storage.get(b.path)
    assert blob_a is not None and blob_b is not None
    await storage.put(a.path, blob_b)
    await storage.put(b.path, blob_a)
    after = await manager.reconcile()
    health = {entry["name"]: entry for entry in (await manager.status())["seals"]}
    assert health["a"]["healthy"] is False and "does not open" in health["a"]["error"]
    # Reported, never silently re-wrapped.
    assert [w.id for w in after.active("pkcs11")] == [a.id, b.id]
    await manager.seal.close()
