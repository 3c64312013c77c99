"""Engine fixtures.

Storage backends: every backend in STORAGE_BACKENDS runs the conformance suite
(test_storage_conformance.py) through the `storage` fixture. Adding a backend is one entry here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.barrier import Barrier
from engine.crypto import new_key
from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage
from engine.storage.sqlite import SqliteStorage
from engine.storage.view import View


@asynccontextmanager
async def memory_storage(tmp_path: Path) -> AsyncIterator[Storage]:
    storage = MemoryStorage()
    yield storage
    await storage.close()


@asynccontextmanager
async def sqlite_storage(tmp_path: Path) -> AsyncIterator[Storage]:
    storage = await SqliteStorage.open(tmp_path / "sqlite" / "store.db")
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
async def barrier_over_memory(tmp_path: Path) -> AsyncIterator[Storage]:
    async with memory_storage(tmp_path) as physical, unsealed_barrier(physical) as barrier:
        yield barrier


@asynccontextmanager
async def barrier_over_sqlite(tmp_path: Path) -> AsyncIterator[Storage]:
    async with sqlite_storage(tmp_path) as physical, unsealed_barrier(physical) as barrier:
        yield barrier


@asynccontextmanager
async def view_over_barrier(tmp_path: Path) -> AsyncIterator[Storage]:
    async with memory_storage(tmp_path) as physical, unsealed_barrier(physical) as barrier:
        yield View(barrier, "logical/some-mount/")


@dataclass(frozen=True)
class StorageBackend:
    name: str
    open: Callable[[Path], AbstractAsyncContextManager[Storage]]
    # What a fresh, empty instance already lists at its root: the barrier's keyring lives under core/.
    root_names: tuple[str, ...] = ()


STORAGE_BACKENDS = [
    StorageBackend("memory", memory_storage),
    StorageBackend("sqlite", sqlite_storage),
    StorageBackend("barrier-memory", barrier_over_memory, root_names=("core/",)),
    StorageBackend("barrier-sqlite", barrier_over_sqlite, root_names=("core/",)),
    StorageBackend("view-over-barrier", view_over_barrier),
]


@pytest.fixture(params=STORAGE_BACKENDS, ids=lambda backend: backend.name)
def storage_backend(request: pytest.FixtureRequest) -> StorageBackend:
    return request.param


@pytest.fixture
async def storage(storage_backend: StorageBackend, tmp_path: Path) -> AsyncIterator[Storage]:
    async with storage_backend.open(tmp_path) as opened:
        yield opened
