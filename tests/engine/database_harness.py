"""Shared by the database engine tests: a Core over the real barrier whose fake clock starts at the real
time (so the VALID UNTIL the engine sets in PostgreSQL is meaningful), a "database" mount configured
against a real PostgreSQL cluster, and ways to see what PostgreSQL itself says: can this user log in,
when does its password expire, is this role still there."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from engine.barrier import Barrier
from engine.core import PERIODIC_INTERVAL, Core
from engine.errors import EngineError
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage
from tests.engine.core_harness import Clock, raised, unsealed_barrier
from tests.postgres import PostgresCluster

CREATE_LOGIN = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
GRANT_READ = 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";'
_names = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test in the session uses (they share one cluster)."""
    return f"{prefix}{next(_names)}"


@dataclass
class DatabaseWorld:
    barrier: Barrier
    core: Core
    clock: Clock
    root: str
    postgres: PostgresCluster
    mount: str = "database"

    async def restart(self) -> None:
        """The daemon stops (closing its connections) and starts again over the same storage."""
        await self.core.teardown()
        self.core = Core(self.barrier, clock=self.clock)
        await self.core.setup()

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None) -> Response:
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=self.root))

    async def error(self, op: Op, path: str, data: dict[str, Any] | None = None) -> EngineError:
        return await raised(self.call(op, path, data))

    async def configure(self, name: str = "pg", **settings: Any) -> None:
        body = {
            "plugin_name": "postgresql-database-plugin",
            "connection_url": self.postgres.templated_url,
            "username": self.postgres.superuser,
            "password": self.postgres.password,
            "allowed_roles": "*",
            **settings,
        }
        await self.call(Op.UPDATE, f"{self.mount}/config/{name}", body)

    async def role(self, name: str, **settings: Any) -> None:
        body = {"db_name": "pg", "creation_statements": [CREATE_LOGIN], "default_ttl": "1h", "max_ttl": "24h"}
        await self.call(Op.UPDATE, f"{self.mount}/roles/{name}", {**body, **settings})

    async def creds(self, role: str) -> Response:
        response = await self.call(Op.READ, f"{self.mount}/creds/{role}")
        assert response.lease_id and response.data is not None, response
        return response


async def make_world(
    postgres: PostgresCluster, *, mount: str = "database", periodic_interval: float = PERIODIC_INTERVAL
) -> DatabaseWorld:
    # Whole seconds: VALID UNTIL is stored to the second and compared as such.
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    barrier = await unsealed_barrier(MemoryStorage())
    core = Core(barrier, clock=clock, periodic_interval=periodic_interval)
    await core.setup()
    world = DatabaseWorld(barrier, core, clock, await core.create_root_token(), postgres, mount)
    await world.call(Op.UPDATE, f"sys/mounts/{mount}", {"type": "database"})
    return world


@asynccontextmanager
async def admin(postgres: PostgresCluster) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres.dsn, timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


async def can_log_in(postgres: PostgresCluster, user: str, password: str) -> bool:
    try:
        conn = await asyncpg.connect(postgres.dsn_for(user, password), timeout=10)
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return False
    try:
        return await conn.fetchval("SELECT current_user") == user
    finally:
        await conn.close()


async def role_exists(postgres: PostgresCluster, user: str) -> bool:
    async with admin(postgres) as conn:
        return bool(await conn.fetchval("SELECT exists(SELECT 1 FROM pg_roles WHERE rolname = $1)", user))


async def valid_until(postgres: PostgresCluster, user: str) -> datetime | None:
    async with admin(postgres) as conn:
        found: datetime | None = await conn.fetchval("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", user)
        return found
