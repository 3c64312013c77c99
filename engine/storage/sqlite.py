"""SQLite storage: the embedded default. One file, WAL journal, fsync on every commit.

Two connections with different owners:
- the writer lives on one dedicated thread, so the fsync of a commit never blocks the event loop
  and writes are naturally serialised (SQLite allows one writer at a time anyway);
- the reader is used directly on the event loop thread. In WAL mode a reader never waits for the
  writer, and a point read by primary key is a few microseconds from the page cache: cheaper than
  the thread hop it would take to move it elsewhere.

A write is durable when put/delete/batch returns: synchronous=FULL syncs the WAL at each commit.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
        # Reader first, so the writer is the last connection and checkpoints the WAL into the file.
        self._reader.close()
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._writer.close)
        finally:
            self._executor.shutdown(wait=False)

    async def get(self, key: str) -> bytes | None:
        self._check_open()
        # The hot path: a plain try costs nothing when no error is raised.
        try:
            row = self._reader.execute(_GET, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise _storage_error(self._path, exc) from exc
        return None if row is None else row[0]

    async def list(self, prefix: str) -> list[str]:
        self._check_open()
        with _translated(self._path):
            return _list(self._reader, prefix)

    async def put(self, key: str, value: bytes) -> None:
        await self.batch([Put(key, value)])

    async def delete(self, key: str) -> None:
        self._check_open()
        await self._write(_apply, self._writer, [Delete(key)])

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        self._check_open()
        await self._write(_apply, self._writer, list(ops))

    async def _write(self, fn: Callable[..., T], *args: object) -> T:
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


def _apply(connection: sqlite3.Connection, ops: Sequence[BatchOp]) -> None:
    """Apply every op in one transaction, or none of them."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for op in ops:
            if isinstance(op, Put):
                connection.execute(_PUT, (op.key, as_value(op.value)))
            else:
                connection.execute(_DELETE, (op.key,))
        connection.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may already have rolled back on its own.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


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
