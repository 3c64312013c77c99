"""SQLite storage: the embedded default. One file, WAL journal, fsync on every commit.

Two connections with different owners:
- the writer lives in a process of its own (sqlite_writer_main.py), so the fsync of a commit never
  blocks the event loop and the writer never competes with it for the GIL; writes are naturally
  serialised (SQLite allows one writer at a time anyway);
- the reader is used directly on the event loop thread. In WAL mode a reader never waits for the
  writer, and a point read by primary key is a few microseconds from the page cache: cheaper than
  any hop it would take to move it elsewhere.

A write is durable when put/delete/batch returns: synchronous=FULL syncs the WAL at each commit, and
the writer answers only after its COMMIT.

Read cache: the last values read or written are kept (they are barrier ciphertext, nothing in clear),
and so is the absence of keys found missing (a mount's unset config is read by every write to it), most
recently used first, up to a bound. Every write goes through this object: it drops the keys it
writes before sending them (a read now must not be served the old value once the write is acknowledged)
and, once the commit is done and before the caller hears of it, puts the committed values in (so the
read that usually follows a write, such as the next write's existence check, needs no trip to the file).
A read never outlives a write that has been acknowledged. (One daemon owns the file; nothing else writes
it while it runs.)

Group commit (sqlite_group.py): the writer commits every write that has reached it in one transaction
(one fsync), each caller's batch still all-or-nothing on its own. A write's caller hears back only
after the COMMIT that holds it, so "returned" still means "on disk".
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from engine.errors import StorageError
from engine.storage.base import BatchOp, Delete, Put, as_value
from engine.storage.sqlite_file import connect, describe
from engine.storage.sqlite_group import Row
from engine.storage.sqlite_writer import PendingWrite, WriterProcess

log = logging.getLogger(__name__)

_GET = "SELECT value FROM entries WHERE key = ?"
# Keys from `?` onwards in key order; the caller stops at the first key outside the prefix.
_SCAN = "SELECT key FROM entries WHERE key >= ? ORDER BY key"

_PRAGMA_NAME = re.compile(r"[a-z_]+")
_PRAGMA_VALUE = re.compile(r"-?\d+|[A-Za-z_]+")
_FIXED_PRAGMAS = frozenset({"journal_mode", "synchronous", "locking_mode"})

_READ_CACHE_ENTRIES = 16384
_READ_CACHE_MAX_VALUE = 64 * 1024  # larger values are read from the file each time


class SqliteStorage:
    """Open with `await SqliteStorage.open(path)`; `await close()` when done."""

    def __init__(self, path: Path, reader: sqlite3.Connection, pragmas: Sequence[str]) -> None:
        self._path = path
        self._reader = reader
        self._pragmas = list(pragmas)
        self._writer: WriterProcess | None = None
        # Held while a writer process starts, so concurrent writes start one, not several.
        self._starting = asyncio.Lock()
        self._closed = False
        # Commits by writer processes that have stopped (a new one counts from zero).
        self._earlier_commits = 0
        # key -> its stored value, or None: known to be absent.
        self._cache: OrderedDict[str, bytes | None] = OrderedDict()

    @classmethod
    async def open(cls, path: str | Path, *, pragmas: Mapping[str, int | str] | None = None) -> SqliteStorage:
        """Open (creating the file, its folder and the schema if needed).

        `pragmas` are applied to both connections after the defaults, e.g. {"cache_size": -65536};
        names and values must be plain words or integers.
        """
        path = Path(path)
        extra = _pragma_statements(pragmas or {})
        with _translated(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            reader = connect(path)
            try:
                for statement in ("PRAGMA query_only = ON", *extra):
                    reader.execute(statement)
            except BaseException:
                reader.close()
                raise
        storage = cls(path, reader, extra)
        try:
            # The writer sets the file up (WAL journal, schema); the reader follows the file's header.
            await storage._running_writer()
        except BaseException:
            await storage.close()
            raise
        return storage

    @property
    def path(self) -> Path:
        return self._path

    @property
    def commits(self) -> int:
        """Transactions committed so far (each one fsync): what tests count to see writes share one."""
        return self._earlier_commits + (self._writer.commits if self._writer is not None else 0)

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id, while one runs."""
        return self._writer.pid if self._writer is not None and not self._writer.stopped else None

    @property
    def writer_settings(self) -> dict[str, object]:
        """The writer connection's journal_mode and synchronous, as it reported them."""
        return dict(self._writer.settings) if self._writer is not None else {}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cache.clear()
        # Reader first, so the writer is the last connection and checkpoints the WAL into the file.
        self._reader.close()
        if self._writer is not None:
            await self._writer.close()

    async def get(self, key: str) -> bytes | None:
        self._check_open()
        try:
            cached = self._cache[key]
        except KeyError:
            pass
        else:
            self._cache.move_to_end(key)
            return cached
        # The hot path: a plain try costs nothing when no error is raised.
        try:
            row = self._reader.execute(_GET, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise _storage_error(self._path, exc) from exc
        value: bytes | None = None if row is None else row[0]
        # Nothing awaited since the read: no write can have slipped in between.
        self._remember(((key, value),))
        return value

    async def list(self, prefix: str) -> list[str]:
        self._check_open()
        with _translated(self._path):
            return _list(self._reader, prefix)

    async def put(self, key: str, value: bytes) -> None:
        await self.batch([Put(key, value)])

    async def delete(self, key: str) -> None:
        await self.batch([Delete(key)])

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        self._check_open()
        # Checked here, before anything is queued: a bad value fails its caller alone and at once.
        rows: list[Row] = [(op.key, as_value(op.value)) if isinstance(op, Put) else (op.key, None) for op in ops]
        if not rows:
            return
        writer = self._writer
        if writer is None or writer.stopped:
            writer = await self._running_writer()
        write = PendingWrite(rows, asyncio.get_running_loop().create_future())
        self._forget(rows)
        writer.write(write)
        await write.done

    async def _running_writer(self) -> WriterProcess:
        """The writer process, started first if there is none or it has stopped."""
        async with self._starting:
            self._check_open()
            stopped = self._writer
            if stopped is not None and not stopped.stopped:
                return stopped
            self._writer = None
            if stopped is not None:
                self._earlier_commits += stopped.commits
                exit_code = await stopped.close()
                log.warning(
                    "sqlite storage at %s: the writer process stopped on its own (exit code %s); starting another",
                    self._path, exit_code,
                )  # fmt: skip
            with _translated(self._path):
                self._writer = await WriterProcess.start(self._path, self._pragmas, self._settle)
            return self._writer

    def _settle(self, settled: list[tuple[PendingWrite, StorageError | None]]) -> None:
        """On the event loop, once a group's commit is over: the cache first, then the callers (a caller
        that gave up meanwhile still has its committed values cached)."""
        for write, failure in settled:
            if failure is None:
                self._remember(write.rows)
            else:
                # Reads while the write was queued may have cached values it would have replaced: they
                # are still the stored ones, but a failed COMMIT leaves that for the file alone to say.
                self._forget(write.rows)
            if write.done.done():
                continue
            if failure is None:
                write.done.set_result(None)
            else:
                write.done.set_exception(failure)

    def _remember(self, rows: Sequence[Row]) -> None:
        """Cache what `rows` say is stored now (a None value: the key is absent)."""
        cache = self._cache
        for key, value in rows:
            if value is not None and len(value) > _READ_CACHE_MAX_VALUE:
                cache.pop(key, None)
                continue
            cache[key] = value
            cache.move_to_end(key)
        while len(cache) > _READ_CACHE_ENTRIES:
            cache.popitem(last=False)

    def _forget(self, rows: Sequence[Row]) -> None:
        for key, _ in rows:
            self._cache.pop(key, None)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"sqlite storage at {self._path} is closed")


def _list(connection: sqlite3.Connection, prefix: str) -> list[str]:
    """One level below `prefix`, by seeking in the primary key index: a sub-folder costs one seek
    however many keys it holds, so listing the top of a large tree never scans the tree."""
    names: list[str] = []
    start = prefix
    # One read transaction, so the seeks all see the same snapshot.
    connection.execute("BEGIN")
    try:
        while start is not None:
            cursor = connection.execute(_SCAN, (start,))
            start = None
            try:
                for (key,) in cursor:
                    if not key.startswith(prefix):
                        break
                    rest = key[len(prefix) :]
                    if not rest:
                        continue
                    head, slash, _ = rest.partition("/")
                    if slash:
                        names.append(head + "/")
                        # '0' is the character right after '/': seek past everything below head/.
                        start = prefix + head + "0"
                        break
                    names.append(head)
            finally:
                cursor.close()
    finally:
        connection.execute("COMMIT")
    # Key order is UTF-8 byte order, which is code point order: already sorted, kept as a guard.
    return sorted(names)


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    """Turn SQLite's and the OS's errors into StorageError naming the file and the cause."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise _storage_error(path, exc) from exc


def _storage_error(path: Path, exc: sqlite3.Error | OSError) -> StorageError:
    return StorageError(f"sqlite storage at {path}: {describe(exc)}")


def _pragma_statements(pragmas: Mapping[str, int | str]) -> list[str]:
    statements = []
    for name, value in pragmas.items():
        # PRAGMA takes no bound parameters, so only harmless words reach the SQL text.
        if not _PRAGMA_NAME.fullmatch(name) or not _PRAGMA_VALUE.fullmatch(str(value)):
            raise ValueError(f"unsupported pragma {name!r} = {value!r}")
        if name in _FIXED_PRAGMAS:
            raise ValueError(f"pragma {name} is fixed: the durability promise depends on it")
        statements.append(f"PRAGMA {name} = {value}")
    return statements
