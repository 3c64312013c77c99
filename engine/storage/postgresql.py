"""PostgreSQL storage: for several daemons sharing one proven database (and its replication).

One table of (key, value) with the key in the "C" collation, so index order is byte order and listing
can seek past a whole sub-folder in one index probe, as the SQLite backend does. A write is durable
when PostgreSQL acknowledges its commit: every session runs with synchronous_commit on, whatever the
server's default.

Connection failures surface as StorageError naming the server (never the password), so the daemon
can say "PostgreSQL is down" instead of a stack trace; the pool reconnects on its own when it returns.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg

from engine.errors import StorageError
from engine.storage.base import BatchOp, Put, as_value

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DEFAULT_TABLE = "sealer_store"
_SCHEMA_LOCK = 0x5EA1E5  # an advisory lock id: daemons starting together create the table once
_EXCLUSIVE_NAMESPACE = 0x5EA2  # pg_advisory_lock(namespace, hashtext(table:name)) for `exclusive`


@dataclass(frozen=True)
class PostgresSettings:
    connection_url: str = field(repr=False)  # holds the password
    table: str = DEFAULT_TABLE
    max_connections: int = 8
    connect_timeout: float = 5.0
    command_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.table):
            raise ValueError(f"table {self.table!r}: use lower-case letters, digits and '_' (at most 63)")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")

    @property
    def server(self) -> str:
        """Where the database is, for messages: host, port and database, without credentials."""
        parts = urlsplit(self.connection_url)
        host = parts.hostname or "localhost"
        port = parts.port or 5432
        return f"{host}:{port}{parts.path or '/'}"


class PostgresStorage:
    """Open with `await PostgresStorage.open(settings)`; `await close()` when done."""

    def __init__(self, settings: PostgresSettings, pool: asyncpg.Pool) -> None:
        self._settings = settings
        self._pool = pool
        table = f'"{settings.table}"'
        self._get = f"SELECT value FROM {table} WHERE key = $1"
        self._put = (
            f"INSERT INTO {table} (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        self._delete = f"DELETE FROM {table} WHERE key = $1"
        self._list = _list_query(table)

    @classmethod
    async def open(cls, settings: PostgresSettings) -> PostgresStorage:
        with translated(settings):
            pool = await asyncpg.create_pool(
                settings.connection_url,
                min_size=1,
                max_size=settings.max_connections,
                timeout=settings.connect_timeout,
                command_timeout=settings.command_timeout,
                server_settings={"synchronous_commit": "on", "application_name": "sealer"},
            )
        storage = cls(settings, pool)
        try:
            await storage._create_schema()
        except BaseException:
            await pool.close()
            raise
        return storage

    @property
    def settings(self) -> PostgresSettings:
        return self._settings

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def close(self) -> None:
        await self._pool.close()

    async def _create_schema(self) -> None:
        table = f'"{self._settings.table}"'
        with translated(self._settings):
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                await connection.execute(
                    f'CREATE TABLE IF NOT EXISTS {table} (key TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL)'
                )

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Run a block while no other daemon on this table runs one of the same name (e.g. initialising
        the store): a session advisory lock, released when the block ends or the session dies."""
        with translated(self._settings):
            async with self._pool.acquire() as connection:
                key = f"{self._settings.table}:{name}"
                await connection.execute("SELECT pg_advisory_lock($1, hashtext($2))", _EXCLUSIVE_NAMESPACE, key)
                try:
                    yield
                finally:
                    await connection.execute(
                        "SELECT pg_advisory_unlock($1, hashtext($2))", _EXCLUSIVE_NAMESPACE, key
                    )

    async def get(self, key: str) -> bytes | None:
        with translated(self._settings):
            value = await self._pool.fetchval(self._get, key)
        return None if value is None else bytes(value)

    async def put(self, key: str, value: bytes) -> None:
        value = as_value(value)
        with translated(self._settings):
            await self._pool.execute(self._put, key, value)

    async def delete(self, key: str) -> None:
        with translated(self._settings):
            await self._pool.execute(self._delete, key)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        prepared = [(self._put, op.key, as_value(op.value)) if isinstance(op, Put) else (self._delete, op.key)
                    for op in ops]
        with translated(self._settings):
            async with self._pool.acquire() as connection, connection.transaction():
                for statement, *args in prepared:
                    await connection.execute(statement, *args)

    async def list(self, prefix: str) -> list[str]:
        with translated(self._settings):
            rows = await self._pool.fetch(self._list, prefix)
        names = {_child(row[0], prefix) for row in rows}
        names.discard("")
        return sorted(names)


def _child(key: str, prefix: str) -> str:
    head, slash, _ = key[len(prefix):].partition("/")
    return head + slash


def _list_query(table: str) -> str:
    """A loose index scan: from each key found, the next probe starts after it, or after its whole
    sub-folder ('0' is the character right after '/'), so a folder costs one probe however many keys
    it holds. The walk stops at the first key outside the prefix."""
    folder_end = (
        "CASE WHEN strpos(substr(w.key, length($1) + 1), '/') > 0 "
        "THEN $1 || split_part(substr(w.key, length($1) + 1), '/', 1) || '0' ELSE w.key END"
    )
    return (
        "WITH RECURSIVE w(key) AS ("
        f" (SELECT key FROM {table} WHERE key >= $1 ORDER BY key LIMIT 1)"
        " UNION ALL"
        f" SELECT (SELECT t.key FROM {table} t WHERE t.key > w.key AND t.key >= {folder_end}"
        "  ORDER BY t.key LIMIT 1)"
        " FROM w WHERE w.key IS NOT NULL AND starts_with(w.key, $1)"
        ") SELECT key FROM w WHERE key IS NOT NULL AND starts_with(key, $1)"
    )


@contextmanager
def translated(settings: PostgresSettings) -> Iterator[None]:
    """PostgreSQL's, the driver's and the network's errors as StorageError naming the server."""
    try:
        yield
    except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
        cause = str(exc) or type(exc).__name__
        raise StorageError(f"postgresql storage at {settings.server}: {cause}") from exc
