"""database/config/:name, reset and rotate-root against a real PostgreSQL: Vault's shapes and messages,
the password never shown, the engine's connections closed when a config goes or the mount does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.backends.database.postgresql import mask_generated
from engine.request import Op
from tests.engine.database_harness import DatabaseWorld, admin, can_log_in, make_world, unique
from tests.postgres import PostgresCluster


@pytest.fixture
async def world(postgres: PostgresCluster) -> AsyncIterator[DatabaseWorld]:
    world = await make_world(postgres)
    yield world
    await world.core.teardown()


async def own_admin(postgres: PostgresCluster) -> tuple[str, str]:
    """A superuser of the test's own, so its password can change and its sessions be counted."""
    name, password = unique("engine_admin_"), "Initial-admin-pw-1"
    async with admin(postgres) as conn:
        await conn.execute(f"CREATE ROLE {name} WITH LOGIN SUPERUSER PASSWORD '{password}'")
    return name, password


async def sessions_of(postgres: PostgresCluster, user: str) -> int:
    async with admin(postgres) as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", user)
        return count


async def test_config_read_hides_the_password(world: DatabaseWorld) -> None:
    await world.configure("main", allowed_roles="a,b", max_open_connections=2)
    data = (await world.call(Op.READ, "database/config/main")).data
    assert data == {
        "plugin_name": "postgresql-database-plugin",
        "plugin_version": "",
        "connection_details": {
            "connection_url": world.postgres.templated_url,
            "username": world.postgres.superuser,
            "max_open_connections": 2,
        },
        "allowed_roles": ["a", "b"],
        "root_credentials_rotate_statements": [],
        "password_policy": "",
        "verify_connection": True,
    }
    # An update merges: what it does not send stays.
    await world.call(Op.UPDATE, "database/config/main", {"allowed_roles": "c"})
    data = (await world.call(Op.READ, "database/config/main")).data
    assert data is not None and data["allowed_roles"] == ["c"]
    assert data["connection_details"]["username"] == world.postgres.superuser
    assert (await world.call(Op.LIST, "database/config")).data == {"keys": ["main"]}
    await world.call(Op.DELETE, "database/config/main")
    assert (await world.error(Op.READ, "database/config/main")).status == 404


async def test_bad_configs_are_refused_and_change_nothing(world: DatabaseWorld) -> None:
    wrong = await world.error(
        Op.UPDATE, "database/config/bad",
        {"plugin_name": "postgresql-database-plugin", "connection_url": world.postgres.templated_url,
         "username": world.postgres.superuser, "password": "Wrong-password-123"},
    )
    assert wrong.status == 400 and wrong.message.startswith("error creating database object: error verifying")
    assert "password authentication failed" in wrong.message and "Wrong-password-123" not in wrong.message
    for body, message in (
        ({"connection_url": world.postgres.templated_url}, "empty plugin name"),
        ({"plugin_name": "mysql-database-plugin"}, 'unknown plugin "mysql-database-plugin": this server offers '
         "postgresql-database-plugin"),
        ({"plugin_name": "postgresql-database-plugin"}, "connection_url cannot be empty"),
    ):
        error = await world.error(Op.UPDATE, "database/config/bad", body)
        assert (error.status, error.message) == (400, message)
    assert (await world.error(Op.READ, "database/config/bad")).status == 404
    # Unverified, a config is saved even while its database cannot be reached.
    await world.configure("later", password="Wrong-password-123", verify_connection=False)
    assert (await world.call(Op.READ, "database/config/later")).data is not None


async def test_rotate_root_leaves_only_the_engine_knowing_the_password(world: DatabaseWorld) -> None:
    name, password = await own_admin(world.postgres)
    await world.configure("rooted", username=name, password=password)
    await world.call(Op.UPDATE, "database/rotate-root/rooted")
    assert not await can_log_in(world.postgres, name, password)
    # The engine still works, with the new password it alone holds.
    await world.role("after-rotation", db_name="rooted")
    issued = await world.creds("after-rotation")
    assert issued.data is not None and await can_log_in(world.postgres, issued.data["username"],
                                                        issued.data["password"])
    details = ((await world.call(Op.READ, "database/config/rooted")).data or {})["connection_details"]
    assert "password" not in details
    await world.call(Op.UPDATE, "database/reset/rooted")
    assert (await world.creds("after-rotation")).data is not None


async def test_rotate_root_needs_credentials_in_the_config(world: DatabaseWorld) -> None:
    url = f"postgresql://{world.postgres.superuser}:{world.postgres.password}@127.0.0.1:{world.postgres.port}/postgres"
    response = await world.call(Op.UPDATE, "database/config/inline", {
        "plugin_name": "postgresql-database-plugin", "connection_url": url, "allowed_roles": "*"})
    assert response.warnings and "Password found in connection_url" in response.warnings[0]
    error = await world.error(Op.UPDATE, "database/rotate-root/inline")
    assert (error.status, error.message) == (500, "unable to rotate root credentials: no username in configuration")


async def test_connections_close_on_config_delete_and_on_unmount(world: DatabaseWorld) -> None:
    name, password = await own_admin(world.postgres)
    await world.configure("counted", username=name, password=password)
    assert await sessions_of(world.postgres, name) == 1  # the verified connection stays in the pool
    await world.call(Op.DELETE, "database/config/counted")
    assert await sessions_of(world.postgres, name) == 0

    await world.configure("counted", username=name, password=password)
    await world.role("pooled", db_name="counted")
    await world.creds("pooled")
    assert await sessions_of(world.postgres, name) >= 1
    await world.call(Op.DELETE, "sys/mounts/database")
    assert await sessions_of(world.postgres, name) == 0


async def test_connections_close_before_sealing(world: DatabaseWorld) -> None:
    name, password = await own_admin(world.postgres)
    await world.configure("sealed", username=name, password=password)
    assert await sessions_of(world.postgres, name) == 1
    await world.core.teardown()
    assert await sessions_of(world.postgres, name) == 0


async def test_a_failing_statement_never_shows_the_password_it_carried(world: DatabaseWorld) -> None:
    await world.configure()
    # PostgreSQL echoes the unknown column's name: here, the whole password.
    await world.role("typo", creation_statements=['CREATE ROLE "{{name}}" LOGIN; SELECT "{{password}}"'])
    error = await world.error(Op.READ, "database/creds/typo")
    assert (error.status, error.message) == (500, 'column "[password]" does not exist')
    # Or a piece of it.
    partial = mask_generated('trailing junk after numeric literal at or near "510VVAKupl"', "510VVAKuplpljv9-Ab1")
    assert partial == 'trailing junk after numeric literal at or near "[password]"'


async def stored_config(world: DatabaseWorld, name: str) -> tuple[str, dict[str, Any]]:
    """The connection's record as kept behind the barrier, and its key there."""
    mounts = (await world.call(Op.READ, "sys/mounts")).data or {}
    key = f"logical/{mounts['database/']['uuid']}/config/{name}"
    raw = await world.barrier.get(key)
    assert raw is not None
    return key, json.loads(raw)


async def test_an_interrupted_root_rotation_keeps_the_password_postgres_has(world: DatabaseWorld) -> None:
    # Crashed after PostgreSQL took the new password, before storage did: the new one is kept.
    name, password = await own_admin(world.postgres)
    await world.configure("crashed", username=name, password=password)
    key, record = await stored_config(world, "crashed")
    new_password = "Taken-by-postgres-1"
    await world.barrier.put(key, json.dumps({**record, "pending_root_password": new_password}).encode())
    async with admin(world.postgres) as conn:
        await conn.execute(f"ALTER ROLE {name} PASSWORD '{new_password}'")
    await world.call(Op.UPDATE, "database/reset/crashed")  # drop pooled sessions logged in before
    await world.role("after-crash", db_name="crashed")
    assert (await world.creds("after-crash")).data is not None
    _, settled = await stored_config(world, "crashed")
    assert settled["connection_details"]["password"] == new_password and settled["pending_root_password"] == ""

    # A rotation whose statements fail leaves PostgreSQL with the old password: the old one is kept.
    failing = [f"ALTER ROLE {name} PASSWORD '{{{{password}}}}'; SELECT * FROM no_such_table"]
    await world.call(Op.UPDATE, "database/config/crashed", {"root_rotation_statements": failing})
    assert (await world.error(Op.UPDATE, "database/rotate-root/crashed")).status == 500
    assert (await world.creds("after-crash")).data is not None
    _, settled = await stored_config(world, "crashed")
    assert settled["connection_details"]["password"] == new_password and settled["pending_root_password"] == ""
    assert await can_log_in(world.postgres, name, new_password)
