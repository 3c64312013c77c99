"""Engine fixtures.

Storage backends: every backend in STORAGE_BACKENDS runs the conformance suite
(test_storage_conformance.py) through the `storage` fixture. Adding a backend is one entry here.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.barrier import Barrier
from engine.crypto import new_key
from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage
from engine.storage.postgresql import PostgresSettings, PostgresStorage
from engine.storage.sqlite import SqliteStorage
from engine.storage.view import View
from tests.postgres import PostgresCluster

_tables = itertools.count(1)


@dataclass(frozen=True)
class StoragePlace:
    """Where a test's storage may live: its temp dir, and the session's PostgreSQL cluster (started only
    when a backend asks for it)."""

    tmp_path: Path
    request: pytest.FixtureRequest

    def postgres(self) -> PostgresCluster:
        cluster: PostgresCluster = self.request.getfixturevalue("postgres")
        return cluster


@asynccontextmanager
async def memory_storage(place: StoragePlace) -> AsyncIterator[Storage]:
    storage = MemoryStorage()
    yield storage
    await storage.close()


@asynccontextmanager
async def sqlite_storage(place: StoragePlace) -> AsyncIterator[Storage]:
    storage = await SqliteStorage.open(place.tmp_path / "sqlite" / "store.db")
    try:
        yield storage
    finally:
        await storage.close()


@asynccontextmanager
async def postgresql_storage(place: StoragePlace) -> AsyncIterator[Storage]:
    # A table of its own per test: the cluster is shared by the whole session.
    settings = PostgresSettings(place.postgres().dsn, table=f"conformance_{next(_tables)}", max_connections=4)
    storage = await PostgresStorage.open(settings)
    try:
        yield storage
    finally:
        await storage.close()


@asynccontextmanager
async def unsealed_barrier(physical: Storage) -> AsyncIterator[Storage]:
    barrier = Barrier(physical)
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    yield barrier
    barrier.seal()


@asynccontextmanager
async def barrier_over_memory(place: StoragePlace) -> AsyncIterator[Storage]:
    async with memory_storage(place) as physical, unsealed_barrier(physical) as barrier:
        yield barrier


@asynccontextmanager
async def barrier_over_sqlite(place: StoragePlace) -> AsyncIterator[Storage]:
    async with sqlite_storage(place) as physical, unsealed_barrier(physical) as barrier:
        yield barrier


@asynccontextmanager
async def view_over_barrier(place: StoragePlace) -> AsyncIterator[Storage]:
    async with memory_storage(place) as physical, unsealed_barrier(physical) as barrier:
        yield View(barrier, "logical/some-mount/")


@dataclass(frozen=True)
class StorageBackend:
    name: str
    open: Callable[[StoragePlace], AbstractAsyncContextManager[Storage]]
    # What a fresh, empty instance already lists at its root: the barrier's keyring lives under core/.
    root_names: tuple[str, ...] = ()


STORAGE_BACKENDS = [
    StorageBackend("memory", memory_storage),
    StorageBackend("sqlite", sqlite_storage),
    StorageBackend("postgresql", postgresql_storage),
    StorageBackend("barrier-memory", barrier_over_memory, root_names=("core/",)),
    StorageBackend("barrier-sqlite", barrier_over_sqlite, root_names=("core/",)),
    StorageBackend("view-over-barrier", view_over_barrier),
]


@pytest.fixture(params=STORAGE_BACKENDS, ids=lambda backend: backend.name)
def storage_backend(request: pytest.FixtureRequest) -> StorageBackend:
    return request.param


@pytest.fixture
async def storage(
    storage_backend: StorageBackend, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Storage]:
    async with storage_backend.open(StoragePlace(tmp_path, request)) as opened:
        yield opened
