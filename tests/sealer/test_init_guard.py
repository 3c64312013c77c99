"""Two daemons sharing a PostgreSQL store and both asked to initialise it at once: the init guard (an
advisory lock in PostgreSQL) lets one make the keys; the other is told the store is already initialised."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from engine.storage.postgresql import PostgresSettings, PostgresStorage
from sealer.seal_manager import AlreadyInitialized, InitRequest, InitResult, SealManager
from sealer.seals.shamir import ShamirSeal
from tests.postgres import PostgresCluster

_tables = itertools.count(1)


@pytest.fixture
async def shared(postgres: PostgresCluster) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    settings = PostgresSettings(postgres.dsn, table=f"init_guard_{next(_tables)}", max_connections=2)
    first, second = await PostgresStorage.open(settings), await PostgresStorage.open(settings)
    yield first, second
    await first.close()
    await second.close()


async def initialise_both(managers: list[SealManager]) -> list[InitResult | BaseException]:
    request = InitRequest(secret_shares=3, secret_threshold=2)
    return await asyncio.gather(*(m.initialize(request) for m in managers), return_exceptions=True)


async def test_with_the_guard_one_initialises_and_the_other_is_told(
    shared: tuple[PostgresStorage, PostgresStorage],
) -> None:
    managers = [SealManager(storage, ShamirSeal(), init_guard=lambda s=storage: s.exclusive("init"))
                for storage in shared]
    results = await initialise_both(managers)
    assert sum(isinstance(r, InitResult) for r in results) == 1
    assert sum(isinstance(r, AlreadyInitialized) for r in results) == 1
    made = next(r for r in results if isinstance(r, InitResult))
    # The one store has the keys of the one init: its shares unseal both daemons.
    for manager in managers:
        for share in made.keys[:2]:
            await manager.submit_share(share.hex(), reset=False)
        assert not manager.sealed


async def test_without_it_both_start_initialising(shared: tuple[PostgresStorage, PostgresStorage]) -> None:
    # Why the guard exists: each daemon's own check passes before either has written anything, and the two
    # inits then write over each other's keys (here one fails to decrypt what the other wrote).
    results = await initialise_both([SealManager(storage, ShamirSeal()) for storage in shared])
    assert not any(isinstance(r, AlreadyInitialized) for r in results), results
