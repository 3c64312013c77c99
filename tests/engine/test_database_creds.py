"""Dynamic PostgreSQL credentials through Core.handle against a real cluster: each step is proven by
logging in as the generated user, or by what PostgreSQL's catalog says about it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from engine.request import Op
from tests.engine.database_harness import (
    CREATE_LOGIN,
    GRANT_READ,
    DatabaseWorld,
    admin,
    can_log_in,
    make_world,
    role_exists,
    unique,
    valid_until,
)
from tests.postgres import PostgresCluster

HOUR = 3600
# How asyncpg reports a session the server ended, depending on when it notices.
SESSION_GONE = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, ConnectionError)


@pytest.fixture
async def world(postgres: PostgresCluster) -> AsyncIterator[DatabaseWorld]:
    world = await make_world(postgres)
    await world.configure()
    yield world
    await world.core.teardown()


async def test_creds_log_in_and_expire_in_postgres_a_little_after_their_lease(world: DatabaseWorld) -> None:
    await world.role("readonly", creation_statements=[CREATE_LOGIN + GRANT_READ], default_ttl="1h")
    issued = await world.creds("readonly")
    assert issued.data is not None
    username, password = issued.data["username"], issued.data["password"]

    assert re.fullmatch(r"v-root-readonly-[A-Za-z0-9]{20}-\d{10}", username)
    assert len(password) >= 20 and not set(password) & set("'\"\\;")
    assert issued.lease_id.startswith("database/creds/readonly/") and issued.renewable is True
    assert issued.lease_duration == HOUR
    assert await can_log_in(world.postgres, username, password)
    assert await valid_until(world.postgres, username) == world.clock.now + timedelta(seconds=HOUR + 5)


async def test_renew_moves_valid_until(world: DatabaseWorld) -> None:
    await world.role("renewing", default_ttl="10m", max_ttl="1h")
    issued = await world.creds("renewing")
    assert issued.data is not None
    world.clock.advance(300)
    renewed = await world.call(Op.UPDATE, "sys/leases/renew", {"lease_id": issued.lease_id, "increment": "20m"})
    assert renewed.lease_duration == 1200
    assert await valid_until(world.postgres, issued.data["username"]) == world.clock.now + timedelta(seconds=1205)


async def test_revoke_drops_the_user_and_ends_its_open_sessions(world: DatabaseWorld) -> None:
    await world.role("app")
    issued = await world.creds("app")
    assert issued.data is not None
    username, password = issued.data["username"], issued.data["password"]
    session = await asyncpg.connect(world.postgres.dsn_for(username, password), timeout=10)
    try:
        pid = await session.fetchval("SELECT pg_backend_pid()")
        await world.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": issued.lease_id})
        async with admin(world.postgres) as conn:
            assert not await conn.fetchval("SELECT exists(SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid)
        with pytest.raises(SESSION_GONE):
            await session.fetchval("SELECT 1")
    finally:
        session.terminate()
    assert not await can_log_in(world.postgres, username, password)
    assert not await role_exists(world.postgres, username)


async def test_expiry_revokes_without_a_request(world: DatabaseWorld) -> None:
    await world.role("short", default_ttl="30s")
    issued = await world.creds("short")
    assert issued.data is not None
    world.clock.advance(31)
    assert await world.core.expiration.tick() == 1
    assert not await role_exists(world.postgres, issued.data["username"])


async def test_leases_outlive_a_restart_and_still_revoke(world: DatabaseWorld) -> None:
    await world.role("durable", default_ttl="1m")
    issued = await world.creds("durable")
    assert issued.data is not None
    await world.restart()
    world.clock.advance(61)
    assert await world.core.expiration.tick() == 1
    assert not await role_exists(world.postgres, issued.data["username"])


async def test_revoke_prefix_on_the_mount_revokes_every_credential(world: DatabaseWorld) -> None:
    await world.role("one")
    await world.role("two")
    issued = [await world.creds("one"), await world.creds("one"), await world.creds("two")]
    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/database/")
    for response in issued:
        assert response.data is not None
        assert not await role_exists(world.postgres, response.data["username"])


async def test_custom_statements_several_per_entry_in_one_transaction(world: DatabaseWorld) -> None:
    table = unique("orders_")
    async with admin(world.postgres) as conn:
        await conn.execute(f"CREATE TABLE {table} (id int); INSERT INTO {table} VALUES (7)")
    creation = CREATE_LOGIN + f' GRANT SELECT ON {table} TO "{{{{name}}}}";'
    revocation = f'REVOKE ALL ON {table} FROM "{{{{name}}}}"; DROP ROLE "{{{{name}}}}";'
    await world.role("reader", creation_statements=creation, revocation_statements=[revocation])
    issued = await world.creds("reader")
    assert issued.data is not None
    conn = await asyncpg.connect(world.postgres.dsn_for(issued.data["username"], issued.data["password"]))
    try:
        assert await conn.fetchval(f"SELECT id FROM {table}") == 7
    finally:
        await conn.close()
    await world.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": issued.lease_id})
    assert not await role_exists(world.postgres, issued.data["username"])

    # A failing statement rolls back the ones before it: no half-made user is left behind.
    await world.role("broken", creation_statements=[CREATE_LOGIN + " SELECT * FROM no_such_table;"])
    error = await world.error(Op.READ, "database/creds/broken")
    assert error.status == 500 and "no_such_table" in error.message
    async with admin(world.postgres) as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-root-broken-%'") == 0


async def test_a_role_not_allowed_by_the_connection_gets_nothing(world: DatabaseWorld) -> None:
    await world.configure("narrow", allowed_roles="app-*")
    await world.role("app-web", db_name="narrow")
    await world.role("other", db_name="narrow")
    assert (await world.creds("app-web")).data is not None
    error = await world.error(Op.READ, "database/creds/other")
    assert error.status == 500 and error.message == '"other" is not an allowed role'
    unknown = await world.error(Op.READ, "database/creds/nobody")
    assert unknown.status == 400 and unknown.message == "unknown role: nobody"


async def test_role_api_in_vaults_shape(world: DatabaseWorld) -> None:
    await world.role("shape", default_ttl="5m", max_ttl="1h", revocation_statements="DROP ROLE \"{{name}}\";")
    data = (await world.call(Op.READ, "database/roles/shape")).data
    assert data == {
        "db_name": "pg",
        "creation_statements": [CREATE_LOGIN],
        "revocation_statements": ['DROP ROLE "{{name}}";'],
        "rollback_statements": [],
        "renew_statements": [],
        "default_ttl": 300,
        "max_ttl": 3600,
        "credential_type": "password",
    }
    await world.call(Op.UPDATE, "database/roles/shape", {"default_ttl": "10m"})
    data = (await world.call(Op.READ, "database/roles/shape")).data
    assert data is not None and (data["default_ttl"], data["max_ttl"]) == (600, 3600)
    assert "shape" in ((await world.call(Op.LIST, "database/roles")).data or {})["keys"]
    await world.call(Op.DELETE, "database/roles/shape")
    assert (await world.error(Op.READ, "database/roles/shape")).status == 404

    for body, message in (
        ({"creation_statements": [CREATE_LOGIN]}, "empty database name attribute"),
        ({"db_name": "pg"}, "empty creation statements"),
        ({"db_name": "pg", "creation_statements": [CREATE_LOGIN], "default_ttl": "2h", "max_ttl": "1h"},
         "ttl cannot be greater than max_ttl"),
    ):
        error = await world.error(Op.UPDATE, "database/roles/bad", body)
        assert (error.status, error.message) == (400, message)
    assert (await world.error(Op.READ, "database/roles/bad")).status == 404
