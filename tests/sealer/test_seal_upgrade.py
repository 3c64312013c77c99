"""Stores written by version 1 of the seal layout (before multi-token, rotation and migration) unseal,
and their first unseal rewrites them as version 2 in one batch."""

from __future__ import annotations

import json
import secrets

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import encrypt, new_key
from engine.storage.base import Put
from engine.storage.memory import MemoryStorage
from sealer.seal_manager import SealManager
from sealer.seal_record import SEAL_RECORD_KEY, WRAPPED_RECOVERY_KEY, WRAPPED_ROOT_KEY, SealRecord
from sealer.seals import envelopes
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.shamir import ShamirSeal
from tests.softhsm import SoftHsmToken


def v1_record(kind: str, installation_id: bytes) -> bytes:
    counts = {"secret_shares": 1, "secret_threshold": 1, "recovery_shares": 1, "recovery_threshold": 1}
    if kind == "shamir":
        counts.update(recovery_shares=0, recovery_threshold=0)
    return json.dumps({"type": kind, "installation_id": installation_id.hex(), "version": 1, **counts}).encode()


async def keyring_and_root_token(storage: MemoryStorage, barrier_key: bytes) -> str:
    barrier = Barrier(storage)
    await barrier.initialize(barrier_key)
    await barrier.unseal(barrier_key)
    core = Core(barrier)
    await core.setup()
    token = await core.create_root_token()
    await core.teardown()
    return token


def seal_of(token: SoftHsmToken) -> Pkcs11Seal:
    return Pkcs11Seal(token.pkcs11_settings(), name="hsm")


async def test_a_version_1_pkcs11_store_unseals_and_is_upgraded(softhsm_token) -> None:
    storage = MemoryStorage()
    installation_id = secrets.token_bytes(16)
    record = SealRecord.from_bytes(v1_record("pkcs11", installation_id))
    root_key, recovery_key = new_key(), new_key()
    seal = seal_of(softhsm_token)
    await seal.open()
    # Version 1: the barrier key came from the token's HMAC key, the recovery key lived in the token.
    root_token = await keyring_and_root_token(storage, await seal.legacy_barrier_key(root_key, installation_id))
    await storage.batch([
        Put(WRAPPED_ROOT_KEY, await seal.wrap(root_key, record.root_key_aad)),
        Put(WRAPPED_RECOVERY_KEY, await seal.wrap(recovery_key, record.recovery_key_aad)),
        Put(SEAL_RECORD_KEY, v1_record("pkcs11", installation_id)),
    ])
    await seal.close()
    keyring_before = await storage.get("core/keyring")

    manager = SealManager(storage, seal_of(softhsm_token))
    assert await manager.auto_unseal() is True
    assert await manager.core.is_root_token(root_token)
    upgraded = await manager.record()
    assert upgraded is not None and not upgraded.legacy
    assert upgraded.barrier_key_source == "root-key" and upgraded.recovery_key_wrap == "root-key"
    [wrapping] = upgraded.wrappings
    assert (wrapping.path, wrapping.token_label, wrapping.key_label) == (
        WRAPPED_ROOT_KEY, softhsm_token.label, "sealer-root-wrap")
    assert await storage.get("core/keyring") != keyring_before  # re-encrypted under the new barrier key
    assert await manager.key_from_shares([recovery_key]) == recovery_key
    await manager.seal.close()

    again = SealManager(storage, seal_of(softhsm_token))
    assert await again.auto_unseal() and await again.core.is_root_token(root_token)
    raw = await storage.get(SEAL_RECORD_KEY)
    assert raw is not None and json.loads(raw)["version"] == 2
    await again.seal.close()


async def test_a_version_1_shamir_store_unseals_and_keeps_its_keyring() -> None:
    storage = MemoryStorage()
    installation_id = secrets.token_bytes(16)
    record = SealRecord.from_bytes(v1_record("shamir", installation_id))
    root_key, unseal_key = new_key(), new_key()
    root_token = await keyring_and_root_token(storage, envelopes.barrier_key(root_key, installation_id))
    await storage.batch([
        Put(WRAPPED_ROOT_KEY, encrypt(unseal_key, root_key, record.root_key_aad)),
        Put(SEAL_RECORD_KEY, v1_record("shamir", installation_id)),
    ])
    keyring_before = await storage.get("core/keyring")

    manager = SealManager(storage, ShamirSeal())
    status = await manager.submit_share(unseal_key.hex(), reset=False)
    assert status["sealed"] is False and await manager.core.is_root_token(root_token)
    assert await storage.get("core/keyring") == keyring_before  # same barrier key derivation
    raw = await storage.get(SEAL_RECORD_KEY)
    assert raw is not None and json.loads(raw)["version"] == 2
