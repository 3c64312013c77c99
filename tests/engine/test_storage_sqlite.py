"""SQLite specifics beyond the conformance suite: files, durability, and failures as StorageError."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from engine.errors import StorageError
from engine.storage import sqlite as sqlite_module
from engine.storage.base import Delete, Put
from engine.storage.sqlite import SqliteStorage
from engine.storage.sqlite_file import SCHEMA
from tests.engine.killed_writer import acknowledged_until_killed

WRITER_CHILD = """
import asyncio, sys
from engine.storage.sqlite import SqliteStorage
from engine.storage.sqlite_file import SCHEMA

async def main() -> None:
    storage = await SqliteStorage.open(sys.argv[1])
    i = 0
    while True:
        key = f"durable/{i // 50}/{i}"
        await storage.put(key, f"value {i}".encode())
        print(key, flush=True)   # only once put() has returned
        i += 1

asyncio.run(main())
"""


async def test_open_creates_the_folder_the_file_and_a_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.db"
    storage = await SqliteStorage.open(str(path))
    try:
        assert storage.path == path
        await storage.put("k", b"v")
        assert path.is_file()
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            # WAL: the committed row may still sit in the -wal file; a second connection sees it.
            assert raw.execute("SELECT value FROM entries WHERE key = 'k'").fetchone() == (b"v",)
    finally:
        await storage.close()


async def test_the_writer_syncs_every_commit(tmp_path: Path) -> None:
    # kill -9 cannot tell a missing fsync (the OS keeps the page cache), so check the setting itself,
    # as the writer process reports it from its own connection.
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        assert storage.writer_settings == {"synchronous": 2, "journal_mode": "wal"}  # 2 = FULL
    finally:
        await storage.close()


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    await storage.batch([Put(f"a/{i}", bytes([i]) * i) for i in range(100)])
    await storage.put("b/c", b"\x00\xff")
    await storage.delete("a/7")
    await storage.close()
    await storage.close()  # closing twice is harmless

    reopened = await SqliteStorage.open(path)
    try:
        assert await reopened.get("a/5") == b"\x05" * 5
        assert await reopened.get("a/7") is None
        assert await reopened.get("b/c") == b"\x00\xff"
        assert await reopened.list("") == ["a/", "b/"]
        assert len(await reopened.list("a/")) == 99
    finally:
        await reopened.close()


async def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    acknowledged = await acknowledged_until_killed(WRITER_CHILD, path, 150)

    storage = await SqliteStorage.open(path)
    try:
        for key in acknowledged:
            index = int(key.rsplit("/", 1)[1])
            assert await storage.get(key) == f"value {index}".encode(), key
    finally:
        await storage.close()
    assert len(acknowledged) >= 150


async def test_disk_full_is_a_storage_error_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    # max_page_count makes SQLite itself hit SQLITE_FULL, as a full disk would.
    storage = await SqliteStorage.open(path, pragmas={"max_page_count": 8})
    try:
        await storage.put("small", b"fits")
        with pytest.raises(StorageError, match=r"full.*SQLITE_FULL") as caught:
            for i in range(100):
                await storage.put(f"big/{i}", os.urandom(3000))
        assert str(path) in str(caught.value)
        written = [i for i in range(100) if await storage.get(f"big/{i}") is not None]
        assert written == list(range(len(written)))  # every put before the failure, none after
        failed_at = len(written)

        with pytest.raises(StorageError, match="SQLITE_FULL"):
            await storage.batch([Put("batch/a", b"a"), Delete("small"), Put("batch/b", os.urandom(40_000))])
        assert await storage.get("batch/a") is None
        assert await storage.get("small") == b"fits"

        # The storage still works once there is room again.
        await storage.batch([Delete(f"big/{i}") for i in range(failed_at)])
        await storage.put("after", b"room again")
        assert await storage.get("after") == b"room again"
    finally:
        await storage.close()

    reopened = await SqliteStorage.open(path)
    try:
        assert await reopened.get("small") == b"fits"
        assert await reopened.get("after") == b"room again"
        assert await reopened.list("") == ["after", "small"]
    finally:
        await reopened.close()


async def test_read_only_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    await storage.put("k", b"v")
    await storage.close()

    # Tests run as root, so chmod cannot make the file read-only; query_only is SQLite's own switch.
    storage = await SqliteStorage.open(path, pragmas={"query_only": 1})
    try:
        writes: list[Callable[[], Awaitable[None]]] = [
            lambda: storage.put("k", b"changed"),
            lambda: storage.delete("k"),
            lambda: storage.batch([Put("n", b"n")]),
        ]
        for write in writes:
            with pytest.raises(StorageError, match=r"readonly.*SQLITE_READONLY"):
                await write()
        assert await storage.get("k") == b"v"
        assert await storage.get("n") is None
    finally:
        await storage.close()


async def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not an sqlite file" * 200)
    with pytest.raises(StorageError, match="not a database"):
        await SqliteStorage.open(path)
    assert path.read_bytes() == b"this is not an sqlite file" * 200


async def test_an_unusable_location_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match=re.escape(str(blocker))):
        await SqliteStorage.open(blocker / "store.db")


async def test_use_after_close_is_a_storage_error(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    await storage.close()
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: storage.get("k"),
        lambda: storage.put("k", b"v"),
        lambda: storage.delete("k"),
        lambda: storage.list(""),
        lambda: storage.batch([]),
    ]
    for operation in operations:
        with pytest.raises(StorageError, match="closed"):
            await operation()


@pytest.mark.parametrize(
    ("pragmas", "message"),
    [
        ({"journal_mode; DROP TABLE entries": 1}, "unsupported pragma"),
        ({"cache_size": "1; DROP TABLE entries"}, "unsupported pragma"),
        ({"synchronous": "OFF"}, "synchronous is fixed"),
        ({"journal_mode": "DELETE"}, "journal_mode is fixed"),
    ],
)
async def test_pragmas_are_plain_words_and_cannot_weaken_durability(
    tmp_path: Path, pragmas: dict[str, str | int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await SqliteStorage.open(tmp_path / "store.db", pragmas=pragmas)
    assert not (tmp_path / "store.db").exists()


async def test_list_of_a_large_tree(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        await storage.batch([Put(f"big/{i % 7}/{i}", b"v") for i in range(20_000)])
        await storage.batch([Put(f"big/leaf{i}", b"v") for i in range(3)])
        assert await storage.list("big/") == [*(f"{n}/" for n in range(7)), "leaf0", "leaf1", "leaf2"]
        assert len(await storage.list("big/3/")) == len(range(3, 20_000, 7))
    finally:
        await storage.close()


@pytest.mark.parametrize("layout", ["", " WITHOUT ROWID"], ids=["rowid", "without-rowid"])
def test_reads_and_listings_seek_on_the_key_index(tmp_path: Path, layout: str) -> None:
    # Reads and listings must be seeks on the key's index, never a scan of the table, in the layout of new
    # files (rowid) and in that of files made before (WITHOUT ROWID), which are kept as they are.
    with sqlite3.connect(tmp_path / "plan.db") as raw:
        raw.execute(SCHEMA + layout)
        for query in (sqlite_module._GET, sqlite_module._SCAN):
            plan = " ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {query}", ("x",)))
            assert plan.startswith("SEARCH entries USING"), plan
            assert "sqlite_autoindex_entries_1" in plan or "PRIMARY KEY" in plan, plan
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


async def test_a_file_made_with_the_earlier_layout_is_read_and_written_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as raw:
        raw.execute(SCHEMA + " WITHOUT ROWID")
        raw.execute("INSERT INTO entries VALUES ('old/key', x'01')")
    raw.close()
    storage = await SqliteStorage.open(path)
    try:
        assert await storage.get("old/key") == b"\x01"
        await storage.put("old/other", b"\x02")
        assert await storage.list("old/") == ["key", "other"]
    finally:
        await storage.close()
    with sqlite3.connect(path) as raw:
        assert "WITHOUT ROWID" in raw.execute("SELECT sql FROM sqlite_master WHERE name = 'entries'").fetchone()[0]
    raw.close()
