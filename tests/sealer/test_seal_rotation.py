"""HSM key rotation against a real SoftHSM token: the root key moves to a new key (or token) in two
batches, the old key stays in force until the commit, and a configuration still naming the old key
finds the new one."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from engine.errors import BadRequest
from engine.storage.memory import MemoryStorage
from sealer import seal_admin
from sealer import seal_wrappings as wrappings
from sealer.seal_manager import InitRequest, SealManager
from sealer.seal_record import Change, SealRecord
from sealer.seal_rotation import RewrapRequest
from sealer.seals.base import SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet
from tests.softhsm import SoftHsmToken, make_token


def manager_for(storage: MemoryStorage, token: SoftHsmToken, **settings: object) -> SealManager:
    return SealManager(storage, Pkcs11Seal(token.pkcs11_settings(**settings), name="hsm"))


async def initialised(storage: MemoryStorage, token: SoftHsmToken) -> tuple[SealManager, str]:
    manager = manager_for(storage, token, key_label="wrap-1", hmac_key_label="hmac-1")
    init = await manager.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    return manager, init.root_token


async def unseals(storage: MemoryStorage, token: SoftHsmToken, root_token: str, **settings: object) -> bool:
    manager = manager_for(storage, token, **settings)
    try:
        return await manager.auto_unseal() and await manager.core.is_root_token(root_token)
    finally:
        await manager.seal.close()


async def stored_record(storage: MemoryStorage) -> SealRecord:
    raw = await storage.get("core/seal-config")
    assert raw is not None
    return SealRecord.from_bytes(raw)


async def test_rotation_moves_the_wrapping_and_the_old_config_still_finds_it(softhsm_token, caplog) -> None:
    storage = MemoryStorage()
    manager, root_token = await initialised(storage, softhsm_token)
    old = (await stored_record(storage)).active()[0]
    result = await seal_admin.rewrap(manager, RewrapRequest(key_label="wrap-2", hmac_key_label="hmac-2",
                                                            generate_key=True))
    assert (result["key_label"], result["hmac_key_label"]) == ("wrap-2", "hmac-2")
    assert "key_label: wrap-2" in result["config_update"] and "hmac_key_label: hmac-2" in result["config_update"]
    record = await stored_record(storage)
    [new] = record.active()
    assert new.key_label == "wrap-2" and record.staged() == [] and record.change is None
    assert [ref.key_label for ref in new.supersedes] == ["wrap-1"]
    assert await storage.get(old.path) is None  # the old wrapping is gone, in the same batch
    await manager.seal.close()

    caplog.set_level("WARNING", logger="sealer.seal")
    # The configuration was not updated: it follows the record to the new key, and says so.
    assert await unseals(storage, softhsm_token, root_token, key_label="wrap-1", hmac_key_label="hmac-1")
    assert "rotated to key 'wrap-2'" in caplog.text
    # Updated: the new key directly.
    assert await unseals(storage, softhsm_token, root_token, key_label="wrap-2", hmac_key_label="hmac-2")
    # A key that was never part of it does not.
    with pytest.raises(SealUnavailable, match="wrap-9"):
        await unseals(storage, softhsm_token, root_token, key_label="wrap-9", hmac_key_label="hmac-1")


async def test_a_staged_rotation_leaves_the_old_key_in_force_and_can_be_resumed_or_aborted(softhsm_token) -> None:
    storage = MemoryStorage()
    manager, root_token = await initialised(storage, softhsm_token)
    record = await stored_record(storage)
    tokens = manager.tokens
    assert tokens is not None
    # What a crash right after the first batch leaves behind.
    seal = tokens.variant(tokens.tokens[0], "wrap-2", "hmac-1", generate_key=True)
    root_key = (await wrappings.unwrap_with_tokens(storage, record, tokens)).root_key
    new = await wrappings.wrap_under_token(seal, record, root_key, staged=True)
    await wrappings.stage(storage, record, [new], Change("rewrap", "hsm"))
    await manager.seal.close()

    assert await unseals(storage, softhsm_token, root_token, key_label="wrap-1", hmac_key_label="hmac-1")
    again = manager_for(storage, softhsm_token, key_label="wrap-1", hmac_key_label="hmac-1")
    assert await again.auto_unseal()
    pending = await seal_admin.rewrap_status(again)
    assert pending["pending"] is True and pending["staged"][0]["key_label"] == "wrap-2"
    aborted = await seal_admin.abort_rewrap(again)
    assert aborted["dropped"] == [new[0].id]
    assert (await stored_record(storage)).staged() == [] and await storage.get(new[0].path) is None
    assert (await seal_admin.rewrap_status(again))["pending"] is False
    # Re-running the rotation completes it.
    await seal_admin.rewrap(again, RewrapRequest(key_label="wrap-2", generate_key=True))
    assert [w.key_label for w in (await stored_record(storage)).active()] == ["wrap-2"]
    await again.seal.close()


async def test_rotation_to_another_token_on_the_same_library(softhsm, softhsm_token) -> None:
    storage = MemoryStorage()
    manager, root_token = await initialised(storage, softhsm_token)
    other = make_token(softhsm.directory, f"new-hsm-{uuid.uuid4().hex[:6]}", softhsm.pin, softhsm.so_pin)
    result = await seal_admin.rewrap(manager, RewrapRequest(key_label="wrap-1", token_label=other.label,
                                                            generate_key=True))
    assert result["token_label"] == other.label and "token_label: " + other.label in result["config_update"]
    await manager.seal.close()
    # The old token's configuration reaches the new token (same library and PIN) ...
    assert await unseals(storage, softhsm_token, root_token, key_label="wrap-1", hmac_key_label="hmac-1")
    # ... and so does the updated one.
    assert await unseals(storage, other, root_token, key_label="wrap-1", hmac_key_label="hmac-1")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (RewrapRequest(key_label="wrap-1"), "already wrapped under key 'wrap-1'"),
        (RewrapRequest(key_label="hmac-1"), "must differ"),
        (RewrapRequest(key_label="wrap-2", token="nope"), "no configured token is named 'nope'"),
    ],
)
async def test_bad_rotations_are_refused_and_change_nothing(softhsm_token, request_, message) -> None:
    storage = MemoryStorage()
    manager, _ = await initialised(storage, softhsm_token)
    before = await storage.get("core/seal-config")
    with pytest.raises(BadRequest, match=message):
        await seal_admin.rewrap(manager, request_)
    assert await storage.get("core/seal-config") == before
    await manager.seal.close()


async def test_with_several_tokens_the_token_must_be_named(softhsm, softhsm_token) -> None:
    other = make_token(softhsm.directory, f"two-{uuid.uuid4().hex[:6]}", softhsm.pin, softhsm.so_pin)
    manager = SealManager(MemoryStorage(), TokenSet([
        Pkcs11Seal(softhsm_token.pkcs11_settings(), name="one", priority=1),
        Pkcs11Seal(other.pkcs11_settings(), name="two", priority=2),
    ]))
    await manager.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    with pytest.raises(BadRequest, match="name the one to rotate"):
        await seal_admin.rewrap(manager, RewrapRequest(key_label="wrap-2"))
    result = await seal_admin.rewrap(manager, RewrapRequest(key_label="wrap-2", token="two", generate_key=True))
    assert result["token"] == "two"
    record = await manager.record()
    assert record is not None
    assert sorted((w.token_label, w.key_label) for w in record.active()) == sorted(
        [(softhsm_token.label, "sealer-root-wrap"), (other.label, "wrap-2")])
    await manager.seal.close()



def destroy_key(token: SoftHsmToken, label: str) -> None:
    """Delete a secret key from the token, as an HSM administrator would (pkcs11-tool, another process)."""
    subprocess.run(["pkcs11-tool", "--module", token.lib, "--token-label", token.label, "--login", "--pin", token.pin,
                    "--delete-object", "--type", "secrkey", "--label", label],
                   env=token.env(), check=True, capture_output=True, timeout=30)


async def test_once_rotated_the_old_key_can_be_destroyed_before_the_config_is_updated(softhsm_token) -> None:
    storage = MemoryStorage()
    manager, root_token = await initialised(storage, softhsm_token)
    await seal_admin.rewrap(manager, RewrapRequest(key_label="wrap-2", generate_key=True))
    await manager.seal.close()
    destroy_key(softhsm_token, "wrap-1")
    # The configured key no longer exists (and may not be generated): the token still opens under the new one.
    assert await unseals(storage, softhsm_token, root_token, key_label="wrap-1", hmac_key_label="hmac-1",
                         generate_key=False)
