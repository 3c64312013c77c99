"""The barrier: encryption at rest, tamper and swap detection, sealing, rotation and root rekey.
(The Storage contract itself runs in test_storage_conformance.py with barrier backends.)"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

import pytest

from engine.barrier import KEYRING_PATH, Barrier
from engine.crypto import new_key
from engine.errors import BadRequest, BarrierDecryptError, Sealed
from engine.storage.base import BatchOp, Delete, Put, Storage
from engine.storage.memory import MemoryStorage

PLAINTEXT = b"the launch code is 0000 -- PLAINTEXT-MARKER"


@pytest.fixture
def physical() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def root_key() -> bytes:
    return new_key()


@pytest.fixture
async def barrier(physical: MemoryStorage, root_key: bytes) -> AsyncIterator[Barrier]:
    barrier = Barrier(physical)
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    yield barrier
    barrier.seal()


async def all_physical(storage: Storage, prefix: str = "") -> dict[str, bytes]:
    """Every raw key and value, found through the public listing."""
    found: dict[str, bytes] = {}
    for name in await storage.list(prefix):
        if name.endswith("/"):
            found |= await all_physical(storage, prefix + name)
        else:
            value = await storage.get(prefix + name)
            assert value is not None
            found[prefix + name] = value
    return found


async def test_initialize_then_unseal(physical: MemoryStorage, root_key: bytes) -> None:
    barrier = Barrier(physical)
    assert not await barrier.initialized()
    assert barrier.sealed
    with pytest.raises(BadRequest, match="not initialized"):
        await barrier.unseal(root_key)
    await barrier.initialize(root_key)
    assert await barrier.initialized()
    assert barrier.sealed  # as in Vault, initialising does not unseal
    await barrier.unseal(root_key)
    assert not barrier.sealed
    assert barrier.key_status().term == 1


async def test_initialize_twice_is_refused(barrier: Barrier, physical: MemoryStorage) -> None:
    keyring_before = await physical.get(KEYRING_PATH)
    with pytest.raises(BadRequest, match="barrier already initialized"):
        await barrier.initialize(new_key())
    with pytest.raises(BadRequest, match="barrier already initialized"):
        await Barrier(physical).initialize(new_key())
    assert await physical.get(KEYRING_PATH) == keyring_before


async def test_initialize_commits_extra_physical_ops_with_the_keyring(
    physical: MemoryStorage, root_key: bytes
) -> None:
    await Barrier(physical).initialize(root_key, also=[Put("core/wrapped-root-key", b"wrapped")])
    assert await physical.get("core/wrapped-root-key") == b"wrapped"
    assert await physical.get(KEYRING_PATH) is not None
    with pytest.raises(BadRequest, match="reserved"):
        await Barrier(MemoryStorage()).initialize(root_key, also=[Put(KEYRING_PATH, b"x")])


async def test_round_trip(barrier: Barrier) -> None:
    await barrier.put("secret/app", PLAINTEXT)
    await barrier.put("secret/empty", b"")
    assert await barrier.get("secret/app") == PLAINTEXT
    assert await barrier.get("secret/empty") == b""
    assert await barrier.get("secret/missing") is None


async def test_physical_storage_holds_no_plaintext(barrier: Barrier, physical: MemoryStorage) -> None:
    await barrier.put("secret/app", PLAINTEXT)
    await barrier.batch([Put("secret/batched", PLAINTEXT)])
    rotated = await barrier.rotate()
    await barrier.put("secret/after-rotation", PLAINTEXT)
    raw = await all_physical(physical)
    assert set(raw) == {KEYRING_PATH, "secret/app", "secret/batched", "secret/after-rotation"}
    blob = b"".join(raw.values())
    for needle in (b"PLAINTEXT-MARKER", b"launch code", rotated.key, base64.b64encode(rotated.key)):
        assert needle not in blob
    assert b"term" not in raw[KEYRING_PATH]  # the keyring's JSON is encrypted too


async def test_stored_format_is_term_version_nonce_ciphertext_tag(
    barrier: Barrier, physical: MemoryStorage
) -> None:
    await barrier.put("k", PLAINTEXT)
    await barrier.put("k2", PLAINTEXT)
    raw, raw2 = await physical.get("k"), await physical.get("k2")
    assert raw is not None and raw2 is not None
    assert raw[:4] == (1).to_bytes(4, "big")
    assert raw[4] == 1
    assert len(raw) == 4 + 1 + 12 + len(PLAINTEXT) + 16
    assert raw[5:17] != raw2[5:17]  # a fresh nonce per value


async def test_tampering_with_any_byte_is_detected(
    barrier: Barrier, physical: MemoryStorage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sealer.barrier")
    await barrier.put("secret/app", PLAINTEXT)
    raw = await physical.get("secret/app")
    assert raw is not None
    for i in range(len(raw)):
        tampered = bytearray(raw)
        tampered[i] ^= 0x80
        await physical.put("secret/app", bytes(tampered))
        with (
            caplog.at_level(logging.WARNING, logger="sealer.barrier"),
            pytest.raises(BarrierDecryptError) as caught,
        ):
            await barrier.get("secret/app")
        assert "secret/app" in str(caught.value)
        assert caught.value.status == 500
    assert all("secret/app" in r.getMessage() for r in caplog.records if r.name == "sealer.barrier")
    assert len([r for r in caplog.records if r.name == "sealer.barrier"]) == len(raw)
    assert "PLAINTEXT" not in caplog.text
    # The barrier still works for intact values.
    await physical.put("secret/app", raw)
    assert await barrier.get("secret/app") == PLAINTEXT


@pytest.mark.parametrize(
    "raw", [b"", b"\x00", b"\x00\x00\x00\x01", b"\x00\x00\x00\x01\x01", b"\x00\x00\x00\x01\x01" + bytes(40)]
)
async def test_truncated_or_garbage_values_are_decrypt_errors(
    barrier: Barrier, physical: MemoryStorage, raw: bytes
) -> None:
    await physical.put("secret/garbage", raw)
    with pytest.raises(BarrierDecryptError, match="secret/garbage"):
        await barrier.get("secret/garbage")


async def test_swapping_values_between_paths_is_detected(barrier: Barrier, physical: MemoryStorage) -> None:
    await barrier.put("secret/a", b"value of a")
    await barrier.put("secret/b", b"value of b")
    raw_a, raw_b = await physical.get("secret/a"), await physical.get("secret/b")
    assert raw_a is not None and raw_b is not None
    await physical.batch([Put("secret/a", raw_b), Put("secret/b", raw_a)])
    for key in ("secret/a", "secret/b"):
        with pytest.raises(BarrierDecryptError, match=key):
            await barrier.get(key)
    # Copying a value to a new path fails the same way.
    await physical.put("secret/c", raw_a)
    with pytest.raises(BarrierDecryptError, match="secret/c"):
        await barrier.get("secret/c")


async def test_unknown_term_or_version_is_a_decrypt_error(barrier: Barrier, physical: MemoryStorage) -> None:
    await barrier.put("k", PLAINTEXT)
    raw = await physical.get("k")
    assert raw is not None
    for header in ((2).to_bytes(4, "big") + b"\x01", (0).to_bytes(4, "big") + b"\x01", raw[:4] + b"\x02"):
        await physical.put("k", header + raw[5:])
        with pytest.raises(BarrierDecryptError, match="'k'"):
            await barrier.get("k")


async def test_rotate_keeps_old_values_readable_and_writes_with_the_new_term(
    barrier: Barrier, physical: MemoryStorage, root_key: bytes
) -> None:
    await barrier.put("old", b"written under term 1")
    before = barrier.key_status()
    rotated = await barrier.rotate()
    assert rotated.term == 2
    status = barrier.key_status()
    assert status.term == 2
    assert status.install_time >= before.install_time
    assert status.install_time == rotated.install_time
    await barrier.put("new", b"written under term 2")
    await barrier.batch([Put("new-batched", b"also term 2")])
    for key, term in (("old", 1), ("new", 2), ("new-batched", 2)):
        raw = await physical.get(key)
        assert raw is not None
        assert int.from_bytes(raw[:4], "big") == term
    assert await barrier.get("old") == b"written under term 1"
    assert await barrier.get("new") == b"written under term 2"

    # The rotated keyring was persisted: a new barrier over the same storage reads everything.
    fresh = Barrier(physical)
    await fresh.unseal(root_key)
    assert fresh.key_status().term == 2
    assert await fresh.get("old") == b"written under term 1"
    assert await fresh.get("new") == b"written under term 2"


async def test_wrong_root_key_leaves_the_barrier_sealed(
    barrier: Barrier, physical: MemoryStorage, root_key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    await barrier.put("k", b"v")
    fresh = Barrier(physical)
    for wrong in (new_key(), b"", root_key[:16], root_key[:-1] + bytes([root_key[-1] ^ 1])):
        with pytest.raises(BarrierDecryptError, match="root key does not decrypt the keyring"):
            await fresh.unseal(wrong)
        assert fresh.sealed
        with pytest.raises(Sealed):
            await fresh.get("k")
    assert root_key.hex() not in caplog.text
    await fresh.unseal(root_key)
    assert await fresh.get("k") == b"v"


async def test_a_tampered_keyring_does_not_unseal(physical: MemoryStorage, root_key: bytes) -> None:
    await Barrier(physical).initialize(root_key)
    raw = await physical.get(KEYRING_PATH)
    assert raw is not None
    await physical.put(KEYRING_PATH, raw[:-1] + bytes([raw[-1] ^ 1]))
    fresh = Barrier(physical)
    with pytest.raises(BarrierDecryptError):
        await fresh.unseal(root_key)
    assert fresh.sealed


async def test_every_operation_is_refused_while_sealed(barrier: Barrier) -> None:
    await barrier.put("k", b"v")
    barrier.seal()
    assert barrier.sealed
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: barrier.get("k"),
        lambda: barrier.put("k", b"v2"),
        lambda: barrier.delete("k"),
        lambda: barrier.list(""),
        lambda: barrier.batch([Put("k", b"v3")]),
        lambda: barrier.rotate(),
        lambda: barrier.rekey_root(new_key()),
    ]
    for operation in operations:
        with pytest.raises(Sealed) as caught:
            await operation()
        assert caught.value.status == 503
    with pytest.raises(Sealed):
        barrier.key_status()


async def test_seal_then_unseal_again(barrier: Barrier, root_key: bytes) -> None:
    await barrier.put("k", b"v")
    barrier.seal()
    barrier.seal()  # sealing twice is harmless
    await barrier.unseal(root_key)
    assert await barrier.get("k") == b"v"
    # Unsealing an unsealed barrier does nothing, as in Vault.
    await barrier.unseal(new_key())
    assert await barrier.get("k") == b"v"


async def test_the_keyring_path_is_reserved(barrier: Barrier, physical: MemoryStorage) -> None:
    keyring_before = await physical.get(KEYRING_PATH)
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: barrier.put(KEYRING_PATH, b"overwrite"),
        lambda: barrier.delete(KEYRING_PATH),
        lambda: barrier.get(KEYRING_PATH),
        lambda: barrier.batch([Put("core/other", b"x"), Delete(KEYRING_PATH)]),
    ]
    for operation in operations:
        with pytest.raises(BadRequest, match="reserved"):
            await operation()
    assert await physical.get(KEYRING_PATH) == keyring_before
    assert await physical.get("core/other") is None
    await barrier.put("core/other", b"fine")  # only the keyring itself is reserved
    assert await barrier.list("core/") == ["keyring", "other"]


async def test_rekey_root_reencrypts_the_keyring(
    barrier: Barrier, physical: MemoryStorage, root_key: bytes
) -> None:
    await barrier.put("k", b"v")
    await barrier.rotate()
    new_root = new_key()
    await barrier.rekey_root(new_root, also=[Put("core/wrapped-root-key", b"new wrapping")])
    assert await physical.get("core/wrapped-root-key") == b"new wrapping"
    # Still unsealed and working; the key terms are unchanged.
    assert barrier.key_status().term == 2
    assert await barrier.get("k") == b"v"

    with pytest.raises(BarrierDecryptError):
        await Barrier(physical).unseal(root_key)
    fresh = Barrier(physical)
    await fresh.unseal(new_root)
    assert await fresh.get("k") == b"v"
    assert fresh.key_status().term == 2

    # Later rotations persist under the new root key.
    await barrier.rotate()
    fresh = Barrier(physical)
    await fresh.unseal(new_root)
    assert fresh.key_status().term == 3


async def test_concurrent_rotations_and_writes_lose_nothing(
    barrier: Barrier, physical: MemoryStorage, root_key: bytes
) -> None:
    async def write(i: int) -> None:
        await barrier.put(f"w/{i}", f"value {i}".encode())

    results = await asyncio.gather(*(barrier.rotate() for _ in range(10)), *(write(i) for i in range(50)))
    terms = sorted(r.term for r in results[:10])  # type: ignore[union-attr]
    assert terms == list(range(2, 12))
    assert barrier.key_status().term == 11

    fresh = Barrier(physical)
    await fresh.unseal(root_key)
    assert fresh.key_status().term == 11
    for i in range(50):
        assert await fresh.get(f"w/{i}") == f"value {i}".encode()


class GatedStorage:
    """A real MemoryStorage whose chosen operations wait at a gate, to hold them in flight."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()
        self.gated: set[str] = set()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        await self._pass("get")
        return await self.inner.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await self._pass("put")
        await self.inner.put(key, value)

    async def delete(self, key: str) -> None:
        await self._pass("delete")
        await self.inner.delete(key)

    async def list(self, prefix: str) -> list[str]:
        await self._pass("list")
        return await self.inner.list(prefix)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        await self._pass("batch")
        await self.inner.batch(ops)

    async def _pass(self, operation: str) -> None:
        if operation in self.gated:
            self.waiting.set()
            await self.gate.wait()


async def seal_while_in_flight(
    barrier: Barrier, physical: GatedStorage, operation: Coroutine[Any, Any, object]
) -> None:
    """Run `operation` until it waits in storage, seal the barrier, then let the operation finish."""
    task = asyncio.create_task(operation)
    try:
        async with asyncio.timeout(10):
            await physical.waiting.wait()
        barrier.seal()
    finally:
        physical.gate.set()
    with pytest.raises(Sealed):
        await task


async def gated_barrier(root_key: bytes) -> tuple[Barrier, GatedStorage]:
    physical = GatedStorage()
    barrier = Barrier(physical)
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    return barrier, physical


async def test_sealing_during_a_rotation_wins(root_key: bytes) -> None:
    barrier, physical = await gated_barrier(root_key)
    physical.gated = {"put"}
    await seal_while_in_flight(barrier, physical, barrier.rotate())
    assert barrier.sealed
    # The rotation reached storage before the seal took effect: the next unseal adopts it.
    await barrier.unseal(root_key)
    assert barrier.key_status().term == 2


async def test_sealing_during_an_unseal_wins(root_key: bytes) -> None:
    barrier, physical = await gated_barrier(root_key)
    barrier.seal()
    physical.gated = {"get"}
    await seal_while_in_flight(barrier, physical, barrier.unseal(root_key))
    assert barrier.sealed


async def test_a_read_interrupted_by_a_seal_returns_nothing(root_key: bytes) -> None:
    barrier, physical = await gated_barrier(root_key)
    await barrier.put("k", b"v")
    physical.gated = {"get"}
    await seal_while_in_flight(barrier, physical, barrier.get("k"))


async def test_a_listing_interrupted_by_a_seal_returns_nothing(root_key: bytes) -> None:
    barrier, physical = await gated_barrier(root_key)
    await barrier.put("k", b"v")
    physical.gated = {"list"}
    await seal_while_in_flight(barrier, physical, barrier.list(""))
