"""The barrier (engine/barrier): whatever is stored at whatever path, it reads back as written; and a
stored value changed anywhere (any byte, any bit pattern), cut short, or moved to another path never
decrypts: BarrierDecryptError, never wrong data. A keyring changed anywhere does not unseal."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.barrier import Barrier
from engine.barrier.barrier import KEYRING_PATH
from engine.crypto import new_key
from engine.errors import BarrierDecryptError
from engine.storage.memory import MemoryStorage
from tests.engine.core_harness import unsealed_barrier
from tests.engine.properties import PROPERTY

paths = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda p: p != KEYRING_PATH
)
values = st.binary(max_size=300)


async def stored(path: str, value: bytes) -> tuple[Barrier, MemoryStorage, bytes]:
    physical = MemoryStorage()
    barrier = await unsealed_barrier(physical)
    await barrier.put(path, value)
    blob = await physical.get(path)
    assert blob is not None
    if len(value) >= 8:  # long enough not to turn up in random ciphertext by chance
        assert value not in blob
    return barrier, physical, blob


@PROPERTY
@given(paths, values)
def test_what_is_written_reads_back(path: str, value: bytes) -> None:
    async def run() -> bytes | None:
        barrier, _, _ = await stored(path, value)
        return await barrier.get(path)

    assert asyncio.run(run()) == value


@PROPERTY
@given(paths, values, st.data())
def test_a_value_changed_anywhere_does_not_decrypt(path: str, value: bytes, data: st.DataObject) -> None:
    async def run() -> None:
        barrier, physical, blob = await stored(path, value)
        index = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="byte")
        mask = data.draw(st.integers(min_value=1, max_value=255), label="xor mask")
        tampered = bytearray(blob)
        tampered[index] ^= mask
        await physical.put(path, bytes(tampered))
        with pytest.raises(BarrierDecryptError):
            await barrier.get(path)

    asyncio.run(run())


@PROPERTY
@given(paths, values, st.data())
def test_a_value_cut_short_or_extended_does_not_decrypt(path: str, value: bytes, data: st.DataObject) -> None:
    async def run() -> None:
        barrier, physical, blob = await stored(path, value)
        if data.draw(st.booleans(), label="cut"):
            changed = blob[: data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="length")]
        else:
            changed = blob + data.draw(st.binary(min_size=1, max_size=16), label="appended")
        await physical.put(path, changed)
        with pytest.raises(BarrierDecryptError):
            await barrier.get(path)

    asyncio.run(run())


@PROPERTY
@given(paths, paths, values)
def test_a_value_moved_to_another_path_does_not_decrypt(path: str, other: str, value: bytes) -> None:
    if other == path:
        return

    async def run() -> None:
        barrier, physical, blob = await stored(path, value)
        await physical.put(other, blob)
        with pytest.raises(BarrierDecryptError):
            await barrier.get(other)

    asyncio.run(run())


@PROPERTY
@given(st.data())
def test_a_keyring_changed_anywhere_does_not_unseal(data: st.DataObject) -> None:
    async def run() -> None:
        physical = MemoryStorage()
        root_key = new_key()
        await Barrier(physical).initialize(root_key)
        blob = await physical.get(KEYRING_PATH)
        assert blob is not None
        tampered = bytearray(blob)
        tampered[data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="byte")] ^= data.draw(
            st.integers(min_value=1, max_value=255), label="xor mask"
        )
        await physical.put(KEYRING_PATH, bytes(tampered))
        barrier = Barrier(physical)
        with pytest.raises(BarrierDecryptError):
            await barrier.unseal(root_key)
        assert barrier.sealed

    asyncio.run(run())
