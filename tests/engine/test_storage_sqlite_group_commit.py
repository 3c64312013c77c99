"""SQLite group commit: concurrent writes share a transaction, and each keeps its own promises."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.errors import StorageError
from engine.storage.base import Delete, Put
from engine.storage.sqlite import SqliteStorage
from tests.engine.killed_writer import acknowledged_until_killed

# 16 writers at once, each printing a key only once its put() has returned.
CONCURRENT_WRITERS_CHILD = """
import asyncio, sys
from engine.storage.sqlite import SqliteStorage

async def writer(storage, name):
    i = 0
    while True:
        key = f"w{name}/{i}"
        await storage.put(key, key.encode())
        print(key, flush=True)
        i += 1

async def main():
    storage = await SqliteStorage.open(sys.argv[1])
    await asyncio.gather(*(writer(storage, n) for n in range(16)))

asyncio.run(main())
"""


async def test_every_acknowledged_concurrent_write_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    acknowledged = await acknowledged_until_killed(CONCURRENT_WRITERS_CHILD, path, 400)

    storage = await SqliteStorage.open(path)
    try:
        missing = [key for key in acknowledged if await storage.get(key) != key.encode()]
    finally:
        await storage.close()
    assert missing == []
    assert len({key.split("/")[0] for key in acknowledged}) == 16  # the writers really ran side by side


async def test_concurrent_writes_all_land(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        await asyncio.gather(*(storage.put(f"k/{i}", bytes([i])) for i in range(200)))
        assert [await storage.get(f"k/{i}") for i in range(200)] == [bytes([i]) for i in range(200)]
        assert len(await storage.list("k/")) == 200
    finally:
        await storage.close()


async def test_a_failing_batch_is_rolled_back_alone_while_its_group_commits(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        bad = storage.batch([Put("bad/first", b"would be half a batch"), Put("bad/second", "not bytes")])  # type: ignore[arg-type]
        results = await asyncio.gather(
            *(storage.put(f"good/{i}", b"v") for i in range(10)), bad, return_exceptions=True
        )
        assert results[:10] == [None] * 10
        assert isinstance(results[10], TypeError)
        assert await storage.list("good/") == [str(i) for i in range(10)]
        assert await storage.get("bad/first") is None  # all or nothing, per caller
        await storage.put("after", b"the writer still works")
        assert await storage.get("after") == b"the writer still works"
    finally:
        await storage.close()


@pytest.mark.parametrize("writes", [1, 50])
async def test_each_write_returns_only_once_committed(tmp_path: Path, writes: int) -> None:
    # Another connection sees every write as soon as its put() returned: it was committed, not queued.
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    other = await SqliteStorage.open(path)
    try:
        await asyncio.gather(*(storage.put(f"x/{i}", b"v") for i in range(writes)))
        assert len(await other.list("x/")) == writes
    finally:
        await other.close()
        await storage.close()


async def test_a_read_while_a_write_is_queued_never_outlives_it(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        await storage.put("k", b"old")
        assert await storage.get("k") == b"old"  # now in the read cache
        for round_ in range(20):
            new = f"new {round_}".encode()
            writing = asyncio.ensure_future(storage.put("k", new))
            await asyncio.sleep(0)  # the write is queued (or committing): reads may see either value
            assert await storage.get("k") in (new, f"new {round_ - 1}".encode(), b"old")
            await writing
            assert await storage.get("k") == new  # acknowledged: nothing older is ever served again
    finally:
        await storage.close()


async def test_a_failed_write_leaves_the_stored_value_readable(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        await storage.put("k", b"kept")
        assert await storage.get("k") == b"kept"
        with pytest.raises(TypeError):
            await storage.batch([Put("k", b"lost"), Put("other", "not bytes")])  # type: ignore[arg-type]
        assert await storage.get("k") == b"kept"
    finally:
        await storage.close()


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        before = storage.commits
        await asyncio.gather(*(storage.put(f"k/{i}", b"v") for i in range(50)))
        assert 1 <= storage.commits - before < 50
        await storage.put("alone", b"v")
        assert storage.commits - before < 51
    finally:
        await storage.close()


@pytest.mark.parametrize("writers", [3, 150])  # one merged statement, or a transaction of several
async def test_writes_to_one_key_in_one_group_apply_in_the_order_they_were_made(tmp_path: Path, writers: int) -> None:
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    other = await SqliteStorage.open(path)
    try:
        noise = [storage.batch([Put(f"n/{i}", b"v"), Delete(f"gone/{i}")]) for i in range(writers - 3)]
        await asyncio.gather(storage.put("k", b"1"), storage.delete("k"), *noise, storage.put("k", b"3"))
        await asyncio.gather(storage.put("j", b"a"), storage.put("j", b"b"), storage.delete("j"))
        for reader in (storage, other):  # the file agrees with the cache
            assert await reader.get("k") == b"3"
            assert await reader.get("j") is None
            assert len(await reader.list("n/")) == writers - 3
    finally:
        await other.close()
        await storage.close()


async def test_a_batch_failing_inside_sqlite_is_rolled_back_alone_while_its_group_commits(tmp_path: Path) -> None:
    # A key SQLite cannot encode fails in the writer process, in the middle of the merged group.
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        before = storage.commits
        bad = storage.batch([Put("bad/first", b"would be half a batch"), Put("bad/\udc80", b"x")])
        results = await asyncio.gather(
            *(storage.put(f"good/{i}", b"v") for i in range(10)), bad, return_exceptions=True
        )
        assert results[:10] == [None] * 10
        assert isinstance(results[10], StorageError)
        assert "can't encode" in str(results[10]) and str(tmp_path) in str(results[10])
        assert await storage.list("good/") == [str(i) for i in range(10)]
        assert await storage.get("bad/first") is None
        assert storage.commits > before
        await storage.put("after", b"the writer still works")
        assert await storage.get("after") == b"the writer still works"
    finally:
        await storage.close()


async def test_the_read_cache_follows_every_acknowledged_write_including_absence(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    other = await SqliteStorage.open(path)
    try:
        assert await storage.get("k") is None  # now known absent
        await storage.put("k", b"1")
        assert await storage.get("k") == b"1"
        await storage.batch([Put("k", b"2"), Put("l", b"")])
        assert (await storage.get("k"), await storage.get("l")) == (b"2", b"")
        await storage.delete("k")
        assert await storage.get("k") is None
        assert (await other.get("k"), await other.get("l")) == (None, b"")  # what the cache says is on disk
    finally:
        await other.close()
        await storage.close()
