"""PostgreSQL down: a revocation that fails is kept, shown in sys/leases and retried with backoff until
PostgreSQL is back, and then the user is really dropped. Uses a cluster of its own, since it stops it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest

from engine.request import Op
from tests.engine.database_harness import DatabaseWorld, admin, make_world, role_exists
from tests.postgres import PostgresCluster


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.create()
    yield cluster
    cluster.destroy()


@pytest.fixture
async def world(own_postgres: PostgresCluster) -> AsyncIterator[DatabaseWorld]:
    world = await make_world(own_postgres)
    await world.configure()
    yield world
    await world.core.teardown()
    if not own_postgres.running:
        own_postgres.start()


async def test_revocation_is_retried_until_postgres_is_back(world: DatabaseWorld) -> None:
    await world.role("outage", default_ttl="30s")
    issued = await world.creds("outage")
    assert issued.data is not None
    username = issued.data["username"]

    world.postgres.stop()
    world.clock.advance(31)
    await world.core.expiration.tick()
    shown = (await world.call(Op.UPDATE, "sys/leases/lookup", {"lease_id": issued.lease_id})).data
    assert shown is not None and shown["revoke_attempts"] == 1 and shown["irrevocable"] is False
    assert "failed to revoke entry" in shown["revoke_error"] and "onnect" in shown["revoke_error"]
    assert world.postgres.password not in shown["revoke_error"]
    sync = await world.error(Op.UPDATE, "sys/leases/revoke", {"lease_id": issued.lease_id})
    assert sync.status == 400 and "failed to revoke entry" in sync.message

    world.postgres.start()
    assert await role_exists(world.postgres, username)  # still there: nothing was dropped yet
    retry_at = datetime.fromisoformat(shown["next_revoke_attempt"])
    world.clock.now = retry_at
    await world.core.expiration.tick()
    assert not await role_exists(world.postgres, username)
    assert (await world.error(Op.UPDATE, "sys/leases/lookup", {"lease_id": issued.lease_id})).status == 400


async def test_a_scheduled_rotation_waits_for_postgres(world: DatabaseWorld, caplog: pytest.LogCaptureFixture) -> None:
    async with admin(world.postgres) as conn:
        await conn.execute("CREATE ROLE rotated_later WITH LOGIN PASSWORD 'Before-outage-pw-1'")
    await world.call(Op.UPDATE, "database/static-roles/later",
                     {"db_name": "pg", "username": "rotated_later", "rotation_period": "5s"})
    before = ((await world.call(Op.READ, "database/static-creds/later")).data or {})["password"]
    world.postgres.stop()
    world.clock.advance(5)
    await world.core.periodic()
    assert any("rotation failed" in r.message for r in caplog.records)
    assert before not in caplog.text
    world.postgres.start()
    world.clock.advance(10)
    await world.core.periodic()
    after = ((await world.call(Op.READ, "database/static-creds/later")).data or {})["password"]
    assert after != before

