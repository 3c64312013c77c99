"""The barrier's cache of decrypted values: a hot key is decrypted once, and no read after an
acknowledged write, a seal or a takeover ever sees what the cache held before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.barrier import Barrier
from engine.barrier.plaintext_cache import MAX_VALUE_BYTES, PlaintextCache
from engine.crypto import new_key
from engine.errors import Sealed
from engine.storage.base import Delete, Put
from engine.storage.memory import MemoryStorage
from tests.engine.leasing import unsealed_barrier
from tests.engine.storage_doubles import PassThrough


class CountedReads(PassThrough):
    """Memory storage that counts reads per key and, once armed, holds the read of one key until
    released (its value read before the hold)."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage())
        self.reads: dict[str, int] = {}
        self.held_key = ""
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        self.reads[key] = self.reads.get(key, 0) + 1
        value = await self.inner.get(key)
        if key == self.held_key:
            self.reading.set()
            await self.release.wait()
        return value


@pytest.fixture
def physical() -> CountedReads:
    return CountedReads()


@pytest.fixture
async def barrier(physical: CountedReads) -> AsyncIterator[Barrier]:
    barrier = await unsealed_barrier(physical)
    yield barrier
    barrier.seal()


async def test_a_hot_key_is_read_from_storage_once(barrier: Barrier, physical: CountedReads) -> None:
    await barrier.put("kv/hot", b"v1")
    assert [await barrier.get("kv/hot") for _ in range(5)] == [b"v1"] * 5
    assert physical.reads["kv/hot"] == 1


@pytest.mark.parametrize("write", ["put", "delete", "batch put", "batch delete"])
async def test_the_read_after_a_write_sees_it(barrier: Barrier, write: str) -> None:
    await barrier.put("kv/hot", b"v1")
    assert await barrier.get("kv/hot") == b"v1"
    if write == "put":
        await barrier.put("kv/hot", b"v2")
    elif write == "delete":
        await barrier.delete("kv/hot")
    elif write == "batch put":
        await barrier.batch([Put("kv/other", b"x"), Put("kv/hot", b"v2")])
    else:
        await barrier.batch([Delete("kv/hot")])
    expected = None if "delete" in write else b"v2"
    assert await barrier.get("kv/hot") == expected


async def test_a_read_overtaken_by_a_write_keeps_nothing(barrier: Barrier, physical: CountedReads) -> None:
    await barrier.put("kv/hot", b"old")
    physical.held_key = "kv/hot"
    stale_read = asyncio.create_task(barrier.get("kv/hot"))
    async with asyncio.timeout(5):
        await physical.reading.wait()
    physical.held_key = ""
    await barrier.put("kv/hot", b"new")
    physical.release.set()
    assert await stale_read == b"old"  # read before the write: what it saw is its own business
    assert await barrier.get("kv/hot") == b"new"  # but it was not kept


async def test_seal_forgets_every_value(barrier: Barrier, physical: CountedReads) -> None:
    await barrier.put("kv/hot", b"v1")
    await barrier.get("kv/hot")
    barrier.seal()
    with pytest.raises(Sealed):
        await barrier.get("kv/hot")
    assert len(barrier._plaintext) == 0


async def test_a_takeover_reads_what_another_node_wrote_meanwhile(physical: CountedReads) -> None:
    # Two daemons over one storage (HA): the standby re-reads its keyring before it serves.
    root_key = new_key()
    active, standby = Barrier(physical), Barrier(physical)
    await active.initialize(root_key)
    await active.unseal(root_key)
    await standby.unseal(root_key)
    await active.put("kv/hot", b"v1")
    assert await standby.get("kv/hot") == b"v1"
    await active.put("kv/hot", b"v2")
    await standby.reload()
    assert await standby.get("kv/hot") == b"v2"


def test_the_cache_is_bounded_in_bytes_and_count() -> None:
    cache = PlaintextCache(max_entries=3, max_bytes=10)
    epoch = cache.epoch
    for key in "abcd":
        cache.keep(key, b"x", epoch)
    assert len(cache) == 3 and cache.get("a") is None  # the least recently used went first
    cache.keep("big", b"y" * 9, epoch)
    assert cache.get("big") == b"y" * 9 and len(cache) <= 2
    cache.keep("huge", b"z" * (MAX_VALUE_BYTES + 1), epoch)
    assert cache.get("huge") is None


def test_a_value_read_before_a_forget_is_not_kept() -> None:
    cache = PlaintextCache()
    epoch = cache.epoch
    cache.forget(["other"])
    cache.keep("a", b"x", epoch)
    assert cache.get("a") is None
