"""PostgreSQL storage beyond the shared contract: several daemons on one table, and a server that goes
away and comes back (the conformance suite runs against it through tests/engine/conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from engine.errors import StorageError
from engine.storage.base import Put
from engine.storage.postgresql import PostgresSettings, PostgresStorage
from tests.postgres import PostgresCluster

_tables = itertools.count(1)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster this module may stop and start without disturbing the session's."""
    cluster = PostgresCluster.create()
    yield cluster
    cluster.destroy()


def settings_for(cluster: PostgresCluster) -> PostgresSettings:
    return PostgresSettings(cluster.dsn, table=f"pg_only_{next(_tables)}", max_connections=2,
                            connect_timeout=2.0, command_timeout=2.0)


async def test_two_storages_on_one_table_see_each_others_writes(postgres: PostgresCluster) -> None:
    settings = settings_for(postgres)
    first, second = await asyncio.gather(PostgresStorage.open(settings), PostgresStorage.open(settings))
    try:
        await first.batch([Put("core/a", b"1"), Put("logical/x/b", b"2")])
        assert await second.get("core/a") == b"1"
        assert await second.list("") == ["core/", "logical/"]
        await second.delete("core/a")
        assert await first.get("core/a") is None
    finally:
        await first.close()
        await second.close()


async def test_a_down_server_is_a_storage_error_naming_it_and_the_pool_recovers(own_cluster: PostgresCluster) -> None:
    settings = settings_for(own_cluster)
    storage = await PostgresStorage.open(settings)
    try:
        await storage.put("before", b"kept")
        own_cluster.stop()
        try:
            for attempt in (storage.get("before"), storage.put("during", b"lost"), storage.list("")):
                with pytest.raises(StorageError) as raised:
                    await attempt
                message = str(raised.value)
                assert f"127.0.0.1:{own_cluster.port}/postgres" in message
                assert own_cluster.password not in message
        finally:
            own_cluster.start()
        # The same storage object, no reopen: the pool reconnects by itself.
        assert await storage.get("before") == b"kept"
        assert await storage.get("during") is None
        await storage.put("after", b"written")
        assert await storage.get("after") == b"written"
    finally:
        await storage.close()


async def test_opening_against_a_server_that_refuses_the_password_names_the_server(
    postgres: PostgresCluster,
) -> None:
    wrong = PostgresSettings(postgres.dsn_for(postgres.superuser, "not-the-password"), table="never_made")
    with pytest.raises(StorageError) as raised:
        await PostgresStorage.open(wrong)
    assert "password authentication failed" in str(raised.value)
    assert "not-the-password" not in str(raised.value)


@pytest.mark.parametrize("table", ["Upper", "semi;colon", "a" * 64, "1starts_with_digit", ""])
def test_a_table_name_that_is_not_a_plain_identifier_is_refused(table: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        PostgresSettings("postgresql://u:p@127.0.0.1/db", table=table)


def test_settings_never_show_the_connection_url() -> None:
    settings = PostgresSettings("postgresql://u:hunter2-plaintext@db.example.com:6543/vault")
    assert "hunter2" not in repr(settings)
    assert settings.server == "db.example.com:6543/vault"
