"""High availability on PostgreSQL: which daemon is the active one.

The lock is a session-level advisory lock held on a connection of its own. PostgreSQL releases it
the moment that session ends, so an active daemon that dies (kill -9, power loss: its socket closes)
loses the lock at once, and one that loses its connection must assume it lost the lock too. No
home-made consensus: PostgreSQL's lock manager decides.

Every daemon also keeps a row in the HA table (heartbeat, API address, and the backend pid of its
lock session). The leader is the row whose pid PostgreSQL lists as holding the lock, so a stale row
of a dead active is never taken for the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.errors import StorageError
from engine.storage.postgresql import PostgresStorage, translated

DEFAULT_HA_TABLE = "sealer_ha_nodes"
# pg_try_advisory_lock(int, int): Sealer's namespace, then a hash of the storage table, so two
# installations sharing a database (different tables) elect their actives independently.
_LOCK_NAMESPACE = 0x5EA1


@dataclass(frozen=True)
class Node:
    node_id: str
    api_addr: str
    hostname: str
    last_echo: datetime
    active: bool
    active_since: datetime | None


class PostgresHaLock:
    """One daemon's view: take the lock, notice losing it, release it, and see who holds it."""

    def __init__(self, storage: PostgresStorage, ha_table: str, node_id: str, api_addr: str, hostname: str) -> None:
        self._storage = storage
        self._settings = storage.settings
        self._table = f'"{ha_table}"'
        self._node_id = node_id
        self._api_addr = api_addr
        self._hostname = hostname
        self._session: asyncpg.Connection | None = None  # holds the lock
        # A standby's session between attempts: one connection, not a new login every second.
        self._waiting: asyncpg.Connection | None = None

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def table(self) -> str:
        return self._table

    @property
    def held(self) -> bool:
        return self._session is not None and not self._session.is_closed()

    async def setup(self) -> None:
        async with self._connection() as connection:
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self._table} (node_id TEXT PRIMARY KEY, api_addr TEXT NOT NULL, "
                "hostname TEXT NOT NULL, last_echo TIMESTAMPTZ NOT NULL, lock_pid INTEGER, active_since TIMESTAMPTZ)"
            )

    async def try_acquire(self) -> bool:
        """One attempt: True when this daemon now holds the lock (it is the active)."""
        if self.held:
            return True
        with translated(self._settings):
            session, self._waiting = self._waiting, None
            if session is None or session.is_closed():
                session = await self._connect()
            try:
                got = await session.fetchval(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))", _LOCK_NAMESPACE, self._settings.table
                )
                if not got:
                    self._waiting = session
                    return False
                await session.execute(
                    f"INSERT INTO {self._table} (node_id, api_addr, hostname, last_echo, lock_pid, active_since) "
                    "VALUES ($1, $2, $3, now(), pg_backend_pid(), now()) ON CONFLICT (node_id) DO UPDATE SET "
                    "api_addr = $2, hostname = $3, last_echo = now(), lock_pid = pg_backend_pid(), "
                    "active_since = now()",
                    self._node_id, self._api_addr, self._hostname,
                )
            except BaseException:
                await _close(session, self._settings.command_timeout)
                raise
        self._session = session
        return True

    async def check(self) -> None:
        """Raises StorageError when the lock may be lost: its session no longer answers."""
        session = self._session
        if session is None or session.is_closed():
            raise StorageError("the HA lock's PostgreSQL session is gone")
        try:
            await session.fetchval("SELECT 1", timeout=self._settings.command_timeout)
        except Exception as exc:  # whatever went wrong, the lock can no longer be vouched for
            raise StorageError(f"the HA lock's PostgreSQL session failed: {exc or type(exc).__name__}") from exc

    async def release(self) -> None:
        """Give the lock up (closing its session releases it), and close a standby's waiting session."""
        for session in (self._session, self._waiting):
            if session is not None:
                await _close(session, self._settings.command_timeout)
        self._session = self._waiting = None

    async def echo(self) -> None:
        """This daemon's heartbeat row, so sys/ha-status lists standbys too."""
        async with self._connection() as connection:
            await connection.execute(
                f"INSERT INTO {self._table} (node_id, api_addr, hostname, last_echo) VALUES ($1, $2, $3, now()) "
                "ON CONFLICT (node_id) DO UPDATE SET api_addr = $2, hostname = $3, last_echo = now()",
                self._node_id, self._api_addr, self._hostname,
            )

    async def forget(self) -> None:
        """Remove this daemon's row at a clean shutdown."""
        async with self._connection() as connection:
            await connection.execute(f"DELETE FROM {self._table} WHERE node_id = $1", self._node_id)

    async def nodes(self, *, fresh_within: float) -> list[Node]:
        """Every daemon that echoed within `fresh_within` seconds, and the active one whatever its echo."""
        async with self._connection() as connection:
            rows = await connection.fetch(
                f"SELECT n.node_id, n.api_addr, n.hostname, n.last_echo, n.active_since, "
                "(l.pid IS NOT NULL) AS active "
                f"FROM {self._table} n LEFT JOIN pg_locks l ON l.pid = n.lock_pid AND l.locktype = 'advisory' "
                "AND l.granted AND l.classid = $1::int4::oid AND l.objid = hashtext($2)::oid AND l.objsubid = 2 "
                "WHERE l.pid IS NOT NULL OR n.last_echo > now() - make_interval(secs => $3) "
                "ORDER BY n.node_id",
                _LOCK_NAMESPACE, self._settings.table, fresh_within,
            )
        return [
            Node(row["node_id"], row["api_addr"], row["hostname"], row["last_echo"], row["active"],
                 row["active_since"] if row["active"] else None)
            for row in rows
        ]

    async def leader(self) -> Node | None:
        return next((node for node in await self.nodes(fresh_within=0) if node.active), None)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self._settings.connection_url,
            timeout=self._settings.connect_timeout,
            command_timeout=self._settings.command_timeout,
            server_settings={"application_name": "sealer-ha"},
        )

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        # Everything but the lock itself goes through the storage's pool.
        with translated(self._settings):
            async with self._storage.pool.acquire() as connection:
                yield connection


async def _close(session: asyncpg.Connection, timeout: float) -> None:
    """Close a session, or drop it: a failure to close means it is gone already."""
    if session.is_closed():
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(session.close(), timeout=timeout)
    if not session.is_closed():
        session.terminate()
