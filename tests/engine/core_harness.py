"""Shared by the engine test harnesses: a settable clock and the real barrier over memory storage,
initialised with a fresh root key and unsealed, for a Core to run on."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest

from engine.barrier import Barrier
from engine.crypto import new_key
from engine.errors import EngineError
from engine.storage.memory import MemoryStorage

START = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def raised(call: Awaitable[object]) -> EngineError:
    """The engine error a call must raise (the test fails when it returns instead)."""
    with pytest.raises(EngineError) as caught:
        await call
    return caught.value


async def unsealed_barrier(physical: MemoryStorage) -> Barrier:
    barrier = Barrier(physical)
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    return barrier


# What sys/mounts and sys/auth show for each mount, as Vault shows it.
MOUNT_INFO_KEYS = {
    "type",
    "description",
    "accessor",
    "config",
    "external_entropy_access",
    "local",
    "seal_wrap",
    "options",
    "uuid",
    "plugin_version",
    "running_plugin_version",
    "running_sha256",
}
