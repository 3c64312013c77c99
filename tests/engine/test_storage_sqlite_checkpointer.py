"""The SQLite writer's checkpointer: committed frames reach the database file while the writer goes on
committing, the WAL starts over instead of growing without end, and closing leaves everything in the file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.storage.sqlite import SqliteStorage
from engine.storage.sqlite_checkpointer import Checkpointer
from engine.storage.sqlite_file import open_writer
from engine.storage.sqlite_group import GroupCommitter, Row
from tests.engine.killed_writer import acknowledged_until_killed

PASS_TIMEOUT_S = 30.0

# Commits random-key rows with a pass after every commit (so one is nearly always running), printing each
# key once its commit has returned.
KILLED_MID_PASS_CHILD = """
import os, sys
from engine.storage.sqlite_checkpointer import Checkpointer
from engine.storage.sqlite_file import open_writer
from engine.storage.sqlite_group import GroupCommitter

connection = open_writer(sys.argv[1], [])
committer = GroupCommitter(connection)
checkpointer = Checkpointer(sys.argv[1], connection, every_commits=1, restart_frames=64)
while True:
    keys = [f"sys/token/id/{os.urandom(32).hex()}" for _ in range(8)]
    assert committer.commit([[(key, os.urandom(600)) for key in keys]]) == [None]
    checkpointer.committed()
    print("\\n".join(keys), flush=True)
"""


def _random_rows(count: int) -> list[Row]:
    # Random keys, as token and lease ids are: each lands on its own page.
    return [(f"sys/token/id/{os.urandom(32).hex()}", os.urandom(600)) for _ in range(count)]


def _file_pages(path: Path) -> int:
    return path.stat().st_size // 4096


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


class _Writer:
    """The writer process's loop, minus the socket: commit a group, then tell the checkpointer."""

    def __init__(self, connection: sqlite3.Connection, checkpointer: Checkpointer) -> None:
        self.connection = connection
        self.checkpointer = checkpointer
        self._committer = GroupCommitter(connection)

    def commit_random_rows(self, count: int = 16) -> None:
        assert self._committer.commit([_random_rows(count)]) == [None]
        self.checkpointer.committed()


@contextmanager
def _writer(path: Path, **settings: int) -> Iterator[_Writer]:
    connection = open_writer(str(path), [])
    checkpointer = Checkpointer(str(path), connection, **settings)
    try:
        yield _Writer(connection, checkpointer)
    finally:
        checkpointer.close()
        connection.close()


def test_the_writer_no_longer_checkpoints_in_its_commits(tmp_path: Path) -> None:
    with _writer(tmp_path / "store.db") as writer:
        assert writer.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0


def test_background_passes_copy_committed_frames_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with _writer(path, every_commits=4, restart_frames=1 << 30) as writer:
        pages_before = _file_pages(path)
        for _ in range(4):
            writer.commit_random_rows()
        assert writer.checkpointer.wait_idle(PASS_TIMEOUT_S)
        assert writer.checkpointer.passes == 1
        # The pages written by those commits are in the file itself now, not only in the WAL.
        assert _file_pages(path) > pages_before + 16


def test_a_pass_that_finds_a_long_wal_makes_the_writer_start_it_over(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with _writer(path, every_commits=2, restart_frames=16) as writer:
        for i in range(40):
            writer.commit_random_rows()
            if i % 2 == 1:
                assert writer.checkpointer.wait_idle(PASS_TIMEOUT_S)
        # Every pass found more than 16 frames, so the writer caught up on its own connection after it.
        assert writer.checkpointer.restarts >= 10
    _assert_rows(path, 40 * 16)


def test_the_wal_stays_bounded_while_commits_never_pause(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    commits = 300
    with _writer(path, every_commits=2, restart_frames=64) as writer:
        for _ in range(commits):
            writer.commit_random_rows()  # passes run alongside: the writer never waits for one
        assert writer.checkpointer.wait_idle(PASS_TIMEOUT_S)
        busy, wal_frames, _copied = writer.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0
    # Without starting over, the WAL would hold every commit's frames (>= 16 each: 7,000 measured).
    assert 0 < wal_frames < commits * 16 // 3
    _assert_rows(path, commits * 16)


async def test_kill_9_during_checkpoint_passes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    acknowledged = await acknowledged_until_killed(KILLED_MID_PASS_CHILD, path, 2000)

    reader = sqlite3.connect(path)  # a writable connection: it recovers the WAL the killed process left
    try:
        stored = {key for (key,) in reader.execute("SELECT key FROM entries")}
        assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        reader.close()
    assert [key for key in acknowledged if key not in stored] == []


def _assert_rows(path: Path, count: int) -> None:
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert reader.execute("SELECT count(*) FROM entries").fetchone()[0] == count
    finally:
        reader.close()


async def test_the_writer_process_checkpoints_while_the_storage_is_open(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    try:
        pages_at_open = _file_pages(path)
        # 64 commits of one small row: ~130 WAL pages, far below SQLite's own 1,000-page checkpoint mark,
        # so only the checkpointer's passes (every 8 commits) can have put them into the file.
        for i in range(64):
            await storage.put(f"k/{i:04d}", os.urandom(300))
        deadline = asyncio.get_running_loop().time() + PASS_TIMEOUT_S
        while _file_pages(path) <= pages_at_open and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # polling the file, bounded: the pass runs in another process
        assert _file_pages(path) > pages_at_open
    finally:
        await storage.close()


async def test_writes_through_the_storage_are_all_in_the_file_after_close(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    storage = await SqliteStorage.open(path)
    try:
        for i in range(300):
            await storage.put(f"k/{i:04d}", os.urandom(300))
    finally:
        await storage.close()
    assert _wal_bytes(path) == 0  # the writer's connection, closed last, folded the WAL into the file
    _assert_rows(path, 300)
