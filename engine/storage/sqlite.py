"""SQLite storage: the embedded default. One file, WAL journal, fsync on every commit.

Two connections with different owners:
- the writer lives on one dedicated thread, so the fsync of a commit never blocks the event loop
  and writes are naturally serialised (SQLite allows one writer at a time anyway);
- the reader is used directly on the event loop thread. In WAL mode a reader never waits for the
  writer, and a point read by primary key is a few microseconds from the page cache: cheaper than
  the thread hop it would take to move it elsewhere.

A write is durable when put/delete/batch returns: synchronous=FULL syncs the WAL at each commit.

Read cache: the last values read or written are kept (they are barrier ciphertext, nothing in clear),
and so is the absence of keys found missing (a mount's unset config is read by every write to it), most
recently used first, up to a bound. Every write goes through this object: it drops the keys it
writes before queueing them (a read now must not be served the old value once the write is acknowledged)
and, once the commit is done and before the caller hears of it, puts the committed values in (so the
read that usually follows a write, such as the next write's existence check, needs no trip to the file).
A read never outlives a write that has been acknowledged. (One daemon owns the file; nothing else writes
it while it runs.)

Group commit (sqlite_group.py): writes queue up for the writer thread, which commits every write waiting
in one transaction (one fsync), each caller's batch still all-or-nothing on its own. A write's caller
hears back only after the COMMIT that holds it, so "returned" still means "on disk".
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from engine.errors import StorageError
from engine.storage.base import BatchOp, Delete, Put, as_value
from engine.storage.sqlite_group import GroupCommitter, Outcome, PendingWrite, Row

T = TypeVar("T")

# WITHOUT ROWID: the value sits in the primary key's B-tree, so a point read is one seek, not two
# (about a quarter faster here for barrier-sized values).
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID"
)
_GET = "SELECT value FROM entries WHERE key = ?"
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
        self._group = GroupCommitter(writer, executor, self._settle)
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

    @property
    def commits(self) -> int:
        """Transactions committed so far (each one fsync): what tests count to see writes share one."""
        return self._group.commits

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
        write = PendingWrite(rows, asyncio.get_running_loop().create_future())
        self._forget(rows)
        self._group.submit(write)
        with _translated(self._path):
            await write.done

    def _settle(self, settled: list[tuple[PendingWrite, Outcome]]) -> None:
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
