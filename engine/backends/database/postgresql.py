"""The postgresql-database-plugin (Vault's plugins/database/postgresql) over an asyncpg connection pool:
create a login role for a lease, move its VALID UNTIL on renewal, drop it on revocation, change a
password (static roles, root rotation).

Every call to PostgreSQL is bounded: connecting by CONNECT_TIMEOUT, each statement by COMMAND_TIMEOUT,
each whole operation by OPERATION_TIMEOUT. A failure is raised as DatabaseError (a 500, as Vault's), with
the configured password masked out of its message; it is never a BadRequest, so the expiration manager
keeps retrying a revocation that failed because PostgreSQL was down.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import asyncpg

from engine.backends.database import statements
from engine.errors import BadRequest, EngineError

PLUGIN_NAME = "postgresql-database-plugin"
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 30.0
OPERATION_TIMEOUT = 60.0
DEFAULT_MAX_OPEN_CONNECTIONS = 4  # Vault's default max_open_connections

DEFAULT_RENEW = ['ALTER ROLE "{{name}}" VALID UNTIL \'{{expiration}}\';']
DEFAULT_ROTATE = ["ALTER ROLE \"{{username}}\" WITH PASSWORD '{{password}}';"]
# Vault's expirationFormat, "2006-01-02 15:04:05-0700".
EXPIRATION_FORMAT = "%Y-%m-%d %H:%M:%S%z"

# A connection the server closed (restart, crash) shows up on its first use; one retry on a fresh one.
_STALE = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError, ConnectionError)

T = TypeVar("T")
_WORD = re.compile(r"[^\s\"'(),;]{4,}")


class DatabaseError(EngineError):
    """PostgreSQL refused or could not be reached. `refused_login`: it was up and said the configured
    credentials are wrong."""

    def __init__(self, message: str, *, refused_login: bool = False) -> None:
        super().__init__(message)
        self.refused_login = refused_login


class PostgresDatabase:
    def __init__(self, details: Mapping[str, Any]) -> None:
        url = str(details.get("connection_url") or "")
        if not url:
            raise BadRequest("connection_url cannot be empty")
        if not url.startswith(("postgres://", "postgresql://")):
            raise BadRequest("connection_url must be a postgres:// or postgresql:// URL")
        self.username = str(details.get("username") or "")
        self._password = str(details.get("password") or "")
        # As Vault: the credentials are URL-escaped into the template's {{username}} and {{password}}.
        self._dsn = statements.render(
            url, {"username": quote(self.username, safe=""), "password": quote(self._password, safe="")}
        )
        try:
            self._max_size = max(1, int(details.get("max_open_connections") or DEFAULT_MAX_OPEN_CONNECTIONS))
        except (TypeError, ValueError):
            raise BadRequest("max_open_connections must be an integer") from None
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresDatabase(username={self.username!r})"

    # --- plugin operations --------------------------------------------------------------------------

    async def verify(self) -> None:
        await self._run(lambda conn: conn.fetchval("SELECT 1"))

    async def new_user(
        self, creation: Sequence[str], username: str, password: str, expiration: datetime
    ) -> None:
        queries = statements.split(creation)
        if not queries:
            raise BadRequest("empty creation statements")
        values = {"name": username, "username": username, "password": password,
                  "expiration": expiration.strftime(EXPIRATION_FORMAT)}
        await self._run(lambda conn: _in_transaction(conn, queries, values), hide=password)

    async def update_expiration(self, username: str, expiration: datetime, renew: Sequence[str]) -> None:
        queries = statements.split(renew or DEFAULT_RENEW)
        values = {"name": username, "username": username, "expiration": expiration.strftime(EXPIRATION_FORMAT)}
        await self._run(lambda conn: _in_transaction(conn, queries, values))

    async def change_password(self, username: str, password: str, rotation: Sequence[str]) -> None:
        queries = statements.split(rotation or DEFAULT_ROTATE)
        values = {"name": username, "username": username, "password": password}
        await self._run(lambda conn: _in_transaction(conn, queries, values), hide=password)

    async def delete_user(self, username: str, revocation: Sequence[str]) -> None:
        queries = statements.split(revocation)
        if queries:
            await self._run(lambda conn: _in_transaction(conn, queries, {"name": username, "username": username}))
        else:
            await self._run(lambda conn: _drop_role(conn, username))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CONNECT_TIMEOUT)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            pool.terminate()

    # --- plumbing -------------------------------------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                # min_size 0: nothing connects until first used, so a config can be saved unverified.
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=0, max_size=self._max_size, timeout=CONNECT_TIMEOUT,
                    command_timeout=COMMAND_TIMEOUT,
                )
            return self._pool

    async def _run(self, work: Callable[[asyncpg.Connection], Awaitable[T]], *, hide: str = "") -> T:
        """`work` on a pooled connection, bounded in time; `hide` is a password the statements carry,
        masked out of any error as the configured one is."""
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(OPERATION_TIMEOUT):
                    pool = await self._get_pool()
                    async with pool.acquire() as conn:
                        return await work(conn)
            except BadRequest:
                raise
            except _STALE as exc:
                if attempt == 2:
                    raise self._error(exc, hide) from None
            except (asyncpg.PostgresError, OSError, TimeoutError, ValueError) as exc:
                raise self._error(exc, hide) from None
        raise AssertionError("unreachable")

    def _error(self, exc: BaseException, hide: str) -> DatabaseError:
        message = str(exc) or type(exc).__name__
        if self._password:
            for shown in {self._password, quote(self._password, safe="")}:
                message = message.replace(shown, "[password]")
        refused = isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError)
        return DatabaseError(mask_generated(message, hide) if hide else message, refused_login=refused)


def mask_generated(message: str, password: str) -> str:
    """`message` without any piece of a generated `password`: PostgreSQL's "at or near ..." can quote
    part of one a statement carried. Every word of 4+ characters found inside it goes (an ordinary
    word inside 20 random characters is too unlikely to matter)."""
    return _WORD.sub(lambda word: "[password]" if word.group() in password else word.group(), message)


async def _in_transaction(conn: asyncpg.Connection, queries: list[str], values: Mapping[str, str]) -> None:
    """Every statement or none (Vault's dbtxn in one transaction)."""
    async with conn.transaction():
        for query in queries:
            await conn.execute(statements.render(query, values))


async def _drop_role(conn: asyncpg.Connection, username: str) -> None:
    """The default revocation: no new logins, end the role's open sessions, hand what it owns to us and
    drop it. In that order, or a session could start between the terminate and the drop; a role that
    is already gone is not an error (a retried revocation)."""
    exists = await conn.fetchval("SELECT exists(SELECT 1 FROM pg_roles WHERE rolname = $1)", username)
    if not exists:
        return
    role = statements.quote_ident(username)
    await conn.execute(f"ALTER ROLE {role} NOLOGIN")
    # PostgreSQL 14+ can wait for each session to be gone, so revocation is over when it returns.
    wait = ", 5000" if conn.get_server_version().major >= 14 else ""
    await conn.execute(f"SELECT pg_terminate_backend(pid{wait}) FROM pg_stat_activity WHERE usename = $1", username)
    async with conn.transaction():
        await conn.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        await conn.execute(f"DROP OWNED BY {role}")
        await conn.execute(f"DROP ROLE IF EXISTS {role}")
