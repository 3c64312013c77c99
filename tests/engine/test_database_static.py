"""Static roles against a real PostgreSQL: the engine takes over an existing user's password at creation,
rotates it on demand and on schedule (the backend's periodic work, driven here with the fake clock),
and static-creds always hands out the password PostgreSQL accepts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.request import Op
from tests.engine.database_harness import DatabaseWorld, admin, can_log_in, make_world, unique
from tests.postgres import PostgresCluster

ORIGINAL_PASSWORD = "Original-user-pw-1"


@pytest.fixture
async def world(postgres: PostgresCluster) -> AsyncIterator[DatabaseWorld]:
    world = await make_world(postgres)
    await world.configure()
    yield world
    await world.core.teardown()


async def existing_user(postgres: PostgresCluster) -> str:
    name = unique("app_user_")
    async with admin(postgres) as conn:
        await conn.execute(f"CREATE ROLE {name} WITH LOGIN PASSWORD '{ORIGINAL_PASSWORD}'")
    return name


async def static_creds(world: DatabaseWorld, role: str) -> dict[str, Any]:
    data = (await world.call(Op.READ, f"database/static-creds/{role}")).data
    assert data is not None
    return data


async def test_creation_rotates_and_static_creds_log_in(world: DatabaseWorld) -> None:
    user = await existing_user(world.postgres)
    await world.call(Op.UPDATE, "database/static-roles/svc", {"db_name": "pg", "username": user,
                                                               "rotation_period": "1h"})
    creds = await static_creds(world, "svc")
    assert set(creds) == {"username", "password", "last_vault_rotation", "rotation_period", "ttl"}
    assert (creds["username"], creds["rotation_period"], creds["ttl"]) == (user, 3600, 3600)
    assert creds["last_vault_rotation"] == world.clock.now.isoformat().replace("+00:00", "Z")
    assert not await can_log_in(world.postgres, user, ORIGINAL_PASSWORD)
    assert await can_log_in(world.postgres, user, creds["password"])

    shown = (await world.call(Op.READ, "database/static-roles/svc")).data
    assert shown == {
        "db_name": "pg", "username": user, "rotation_period": 3600, "rotation_statements": [],
        "credential_type": "password", "last_vault_rotation": creds["last_vault_rotation"],
    }
    assert (await world.call(Op.LIST, "database/static-roles")).data == {"keys": ["svc"]}


async def test_rotate_role_and_the_schedule_change_the_password(world: DatabaseWorld) -> None:
    user = await existing_user(world.postgres)
    await world.call(Op.UPDATE, "database/static-roles/sched", {"db_name": "pg", "username": user,
                                                                 "rotation_period": "10s"})
    first = (await static_creds(world, "sched"))["password"]

    await world.call(Op.UPDATE, "database/rotate-role/sched")
    second = (await static_creds(world, "sched"))["password"]
    assert second != first
    assert await can_log_in(world.postgres, user, second) and not await can_log_in(world.postgres, user, first)

    world.clock.advance(9)
    await world.core.periodic()
    assert (await static_creds(world, "sched"))["password"] == second  # not due yet
    assert (await static_creds(world, "sched"))["ttl"] == 1
    world.clock.advance(1)
    await world.core.periodic()
    third = (await static_creds(world, "sched"))["password"]
    assert third != second and await can_log_in(world.postgres, user, third)


async def test_bad_static_roles_are_refused(world: DatabaseWorld) -> None:
    user = await existing_user(world.postgres)
    base = {"db_name": "pg", "username": user, "rotation_period": "1h"}
    for body, message in (
        ({**base, "rotation_period": "4s"}, "rotation_period must be 5 seconds or more"),
        ({"db_name": "pg", "rotation_period": "1h"}, "username is a required field to create a static account"),
        ({"username": user, "rotation_period": "1h"}, "database name is a required field"),
        ({"db_name": "pg", "username": user}, "rotation_period is required to create static accounts"),
        ({**base, "username": 'x"; DROP TABLE t; --'},
         "username must not contain quotes, backslashes, semicolons or control characters"),
    ):
        error = await world.error(Op.UPDATE, "database/static-roles/bad", body)
        assert (error.status, error.message) == (400, message)
    missing_user = await world.error(Op.UPDATE, "database/static-roles/bad", {**base, "username": "no_such_user"})
    assert missing_user.status == 500 and missing_user.message.startswith("error setting credentials:")
    assert (await world.error(Op.READ, "database/static-roles/bad")).status == 404
    assert await can_log_in(world.postgres, user, ORIGINAL_PASSWORD)  # nothing changed

    await world.call(Op.UPDATE, "database/static-roles/fixed", base)
    renamed = await world.error(Op.UPDATE, "database/static-roles/fixed", {"username": "someone_else"})
    assert (renamed.status, renamed.message) == (400, "cannot update static account username")
    await world.role("taken")
    clash = await world.error(Op.UPDATE, "database/static-roles/taken", base)
    assert (clash.status, clash.message) == (400, "Role and Static Role names must be unique")
    unknown = await world.error(Op.READ, "database/static-creds/nobody")
    assert (unknown.status, unknown.message) == (400, "unknown role: nobody")


async def test_the_background_job_rotates_on_schedule_and_stops(postgres: PostgresCluster) -> None:
    world = await make_world(postgres, periodic_interval=0.01)
    await world.configure()
    user = await existing_user(world.postgres)
    await world.call(Op.UPDATE, "database/static-roles/ticking", {"db_name": "pg", "username": user,
                                                                   "rotation_period": "1m"})
    before = (await static_creds(world, "ticking"))["password"]
    stopping = asyncio.Event()
    periodic = world.core.background()[1]
    task = asyncio.create_task(periodic(stopping))
    try:
        world.clock.advance(60)
        async with asyncio.timeout(10):  # a bound, not an expectation
            while (await static_creds(world, "ticking"))["password"] == before:
                await asyncio.sleep(0.01)  # poll
    finally:
        stopping.set()
        async with asyncio.timeout(5):
            await task
    assert await can_log_in(world.postgres, user, (await static_creds(world, "ticking"))["password"])
    await world.core.teardown()
