"""The HA lock on PostgreSQL: one holder at a time, released the moment its session ends, and the
leader as PostgreSQL's lock manager sees it (never a stale row)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from engine.errors import StorageError
from engine.storage.postgresql import PostgresSettings, PostgresStorage
from engine.storage.postgresql_ha import PostgresHaLock
from tests.postgres import PostgresCluster

_tables = itertools.count(1)
MakeLock = Callable[[str], PostgresHaLock]


@pytest.fixture
async def storage(postgres: PostgresCluster) -> AsyncIterator[PostgresStorage]:
    opened = await PostgresStorage.open(PostgresSettings(postgres.dsn, table=f"ha_{next(_tables)}", max_connections=4))
    yield opened
    await opened.close()


@pytest.fixture
async def make_lock(storage: PostgresStorage) -> AsyncIterator[MakeLock]:
    made: list[PostgresHaLock] = []

    def make(node_id: str) -> PostgresHaLock:
        lock = PostgresHaLock(storage, "ha_nodes", node_id, f"http://{node_id}:8200", node_id)
        made.append(lock)
        return lock

    await make("setup").setup()
    yield make
    for lock in made:
        await lock.release()


async def test_one_holder_at_a_time_and_the_next_takes_over_on_release(make_lock: MakeLock) -> None:
    first, second = make_lock("node-a"), make_lock("node-b")
    assert await first.try_acquire()
    assert not await second.try_acquire()
    await second.echo()
    leader = await first.leader()
    assert leader is not None and (leader.node_id, leader.api_addr) == ("node-a", "http://node-a:8200")
    assert [(n.node_id, n.active) for n in await second.nodes(fresh_within=60)] == [
        ("node-a", True), ("node-b", False)
    ]

    await first.release()
    assert await second.try_acquire()
    leader = await first.leader()
    assert leader is not None and leader.node_id == "node-b"


async def test_a_holder_whose_session_ends_loses_the_lock_at_once(
    make_lock: MakeLock, postgres: PostgresCluster
) -> None:
    first, second = make_lock("node-a"), make_lock("node-b")
    assert await first.try_acquire()
    await first.check()
    # What a kill -9 of the active looks like to PostgreSQL: its session ends.
    admin = await asyncpg.connect(postgres.dsn)
    try:
        pid = await admin.fetchval(f"SELECT lock_pid FROM {first.table} WHERE node_id = 'node-a'")
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    with pytest.raises(StorageError):
        await first.check()
    assert await first.leader() is None  # its row is still there, but it holds nothing
    assert await second.try_acquire()


async def test_two_installations_on_different_tables_elect_independently(
    postgres: PostgresCluster, make_lock: MakeLock
) -> None:
    other = await PostgresStorage.open(PostgresSettings(postgres.dsn, table=f"ha_{next(_tables)}"))
    try:
        here = make_lock("here")
        there = PostgresHaLock(other, "ha_nodes_other", "there", "http://there:8200", "there")
        await there.setup()
        assert await here.try_acquire()
        assert await there.try_acquire()
        await there.release()
    finally:
        await other.close()


async def test_a_standby_retries_on_one_session_and_release_closes_it(
    make_lock: MakeLock, postgres: PostgresCluster
) -> None:
    holder, standby = make_lock("holder"), make_lock("standby")
    assert await holder.try_acquire()
    admin = await asyncpg.connect(postgres.dsn)
    try:
        sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sealer-ha'"
        before = await admin.fetchval(sessions)
        for _ in range(5):
            assert not await standby.try_acquire()
        assert await admin.fetchval(sessions) == before + 1  # five attempts, one session
        await standby.release()
        await holder.release()
        assert await standby.try_acquire()  # its next attempt opens a fresh session and wins
    finally:
        await admin.close()
