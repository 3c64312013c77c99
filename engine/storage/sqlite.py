"""SQLite storage: the embedded default. One file, WAL journal, fsync on every commit.

Two connections with different owners:
- the writer lives on one dedicated thread, so the fsync of a commit never blocks the event loop
  and writes are naturally serialised (SQLite allows one writer at a time anyway);
- the reader is used directly on the event loop thread. In WAL mode a reader never waits for the
  writer, and a point read by primary key is a few microseconds from the page cache: cheaper than
  the thread hop it would take to move it elsewhere.

A write is durable when put/delete/batch returns: synchronous=FULL syncs the WAL at each commit.

Read cache: the last values read or written are kept (they are barrier ciphertext, nothing in clear),
most recently used first, up to a bound. Every write goes through this object, which drops the keys it
writes before queueing them and again once the commit is done, so a read never outlives a write that
has been acknowledged. (One daemon owns the file; nothing else writes it while it runs.)

Group commit: writes queue up for the writer thread, which takes every write waiting when it gets to
run and commits them in one transaction (one fsync). Each write keeps its own all-or-nothing: it runs in
a savepoint of its own, so one failing write is rolled back alone and the rest still commit. A write's
caller hears back only after the COMMIT that holds it, so "returned" still means "on disk".
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from engine.errors import StorageError
from engine.storage.base import BatchOp, Delete, Put, as_value

T = TypeVar("T")

# WITHOUT ROWID: the value sits in the primary key's B-tree, so a point read is one seek, not two
# (about a quarter faster here for barrier-sized values).
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID"
)
_GET = "SELECT value FROM entries WHERE key = ?"
_PUT = "INSERT INTO entries (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
_DELETE = "DELETE FROM entries WHERE key = ?"
# Keys from `?` onwards in key order; the caller stops at the first key outside the prefix.
_SCAN = "SELECT key FROM entries WHERE key >= ? ORDER BY key"

_BUSY_TIMEOUT_S = 5.0
_READ_CACHE_ENTRIES = 16384
_READ_CACHE_MAX_VALUE = 64 * 1024  # larger values are read from the file each time
_CACHE_SIZE = -16384  # KiB per connection (SQLite's default is 2 MiB)
_PRAGMA_NAME = re.compile(r"[a-z_]+")
_PRAGMA_VALUE = re.compile(r"-?\d+|[A-Za-z_]+")
_FIXED_PRAGMAS = frozenset({"journal_mode", "synchronous", "locking_mode"})


class SqliteStorage:
    """Open with `await SqliteStorage.open(path)`; `await close()` when done."""

    def __init__(
        self, path: Path, reader: sqlite3.Connection, writer: sqlite3.Connection, executor: ThreadPoolExecutor
    ) -> None:
        self._path = path
        self._reader = reader
        self._writer = writer
        self._executor = executor
        self._closed = False
        # Writes waiting for the writer thread: appended on the event loop, drained on the writer thread.
        self._waiting: deque[_Write] = deque()
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    @classmethod
    async def open(cls, path: str | Path, *, pragmas: Mapping[str, int | str] | None = None) -> SqliteStorage:
        """Open (creating the file, its folder and the schema if needed).

        `pragmas` are applied to both connections after the defaults, e.g. {"cache_size": -65536};
        names and values must be plain words or integers.
        """
        path = Path(path)
        extra = _pragma_statements(pragmas or {})
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        try:
            writer = await loop.run_in_executor(executor, _open_writer, path, extra)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        try:
            with _translated(path):
                reader = _connect(path)
                try:
                    # The writer has already switched the file to WAL, which is persistent.
                    for statement in ("PRAGMA query_only = ON", *extra):
                        reader.execute(statement)
                except BaseException:
                    reader.close()
                    raise
        except BaseException:
            await loop.run_in_executor(executor, writer.close)
            executor.shutdown(wait=False)
            raise
        return cls(path, reader, writer, executor)

    @property
    def path(self) -> Path:
        return self._path

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cache.clear()
        # Reader first, so the writer is the last connection and checkpoints the WAL into the file.
        self._reader.close()
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._writer.close)
        finally:
            self._executor.shutdown(wait=False)

    async def get(self, key: str) -> bytes | None:
        self._check_open()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        # The hot path: a plain try costs nothing when no error is raised.
        try:
            row = self._reader.execute(_GET, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise _storage_error(self._path, exc) from exc
        if row is None:
            return None
        value: bytes = row[0]
        # Nothing awaited since the read: no write can have slipped in between.
        if len(value) <= _READ_CACHE_MAX_VALUE:
            self._cache[key] = value
            if len(self._cache) > _READ_CACHE_ENTRIES:
                self._cache.popitem(last=False)
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
        write = _Write(list(ops), Future())
        # Dropped before (a read now must not be served the old value once this is acknowledged) and
        # after (a read while the write was queued may have cached the old value from the file).
        self._forget(write.ops)
        self._waiting.append(write)
        # One drain per write queued: the first to run commits everything waiting, later ones find the
        # queue empty (or holding writes that arrived since) and return at once.
        self._executor.submit(_drain, self._writer, self._waiting)
        try:
            with _translated(self._path):
                await asyncio.wrap_future(write.done)
        finally:
            self._forget(write.ops)

    def _forget(self, ops: Sequence[BatchOp]) -> None:
        for op in ops:
            self._cache.pop(op.key, None)

    async def _write(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn` on the writer thread (after any write queued before it)."""
        loop = asyncio.get_running_loop()
        with _translated(self._path):
            return await loop.run_in_executor(self._executor, fn, *args)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"sqlite storage at {self._path} is closed")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; the writer opens its own explicitly.
    connection = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
    connection.execute(f"PRAGMA cache_size = {_CACHE_SIZE}")
    return connection


def _open_writer(path: Path, extra: Sequence[str]) -> sqlite3.Connection:
    """Runs on the writer thread, which then owns the connection for its whole life."""
    with _translated(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = _connect(path)
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StorageError(f"sqlite storage at {path}: cannot use WAL journal mode (got {mode})")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute(_SCHEMA)
            for statement in extra:
                connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection


class _Write:
    """One caller's batch and the future its caller waits on (set on the writer thread)."""

    __slots__ = ("done", "ops")

    def __init__(self, ops: list[BatchOp], done: Future[None]) -> None:
        self.ops = ops
        self.done = done


def _drain(connection: sqlite3.Connection, waiting: deque[_Write]) -> None:
    """Runs on the writer thread: commit every waiting write in one transaction, each in a savepoint."""
    group: list[_Write] = []
    while waiting:
        group.append(waiting.popleft())
    if not group:
        return
    failures: dict[int, BaseException] = {}
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for index, write in enumerate(group):
                connection.execute("SAVEPOINT one_write")
                try:
                    _apply_ops(connection, write.ops)
                except Exception as exc:
                    if not connection.in_transaction:
                        raise  # SQLite rolled the whole transaction back (disk full, I/O error): all fail
                    # This caller's failure alone (a bad value, a constraint): undo just its ops.
                    connection.execute("ROLLBACK TO one_write")
                    failures[index] = exc
                connection.execute("RELEASE one_write")
            connection.execute("COMMIT")
        except BaseException:
            # A failed COMMIT may already have rolled back on its own.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    except BaseException as exc:
        for write in group:
            write.done.set_exception(exc)
        return
    for index, write in enumerate(group):
        failure = failures.get(index)
        if failure is None:
            write.done.set_result(None)
        else:
            write.done.set_exception(failure)


def _apply_ops(connection: sqlite3.Connection, ops: Sequence[BatchOp]) -> None:
    for op in ops:
        if isinstance(op, Put):
            connection.execute(_PUT, (op.key, as_value(op.value)))
        else:
            connection.execute(_DELETE, (op.key,))


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
    code = getattr(exc, "sqlite_errorname", None)
    cause = f"{exc} ({code})" if code else str(exc)
    return StorageError(f"sqlite storage at {path}: {cause}")


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
