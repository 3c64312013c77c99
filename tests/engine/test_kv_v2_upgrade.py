"""Upgrading a KV v1 mount to v2 (sys/mounts/<path>/tune with options.version 2) keeps its data: each
v1 entry becomes version 1 of the same path. The migration is resumable: a storage failure part way
leaves the rest to the next request, and nothing is migrated twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from engine.backends.kv_v2 import KvV2Backend
from engine.errors import StorageError
from engine.mounts import MountEntry
from engine.request import Op, Request
from engine.storage.base import BatchOp, Storage
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from tests.engine.core_harness import START, Clock
from tests.engine.kv_v2_harness import Kv, bind_clock, close_kv
from tests.engine.storage_doubles import PassThrough
from tests.engine.token_harness import start_engine

V1_ENTRIES = {
    "app/db": {"user": "app", "port": 5432},
    "app/nested/deep": {"k": {"a": [1, 2]}},
    "top": {"ttl": "1h", "v": "x"},
    # A v1 key that looks like a v2 API path is data like any other.
    "data/looks-like-v2": {"v": 1},
}

UPGRADE_WARNING = (
    "Upgrading mount from version 1 to version 2. This mount will be unavailable for a brief period and will "
    "resume service shortly."
)


@pytest.fixture
async def old(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kv]:
    """A KV v1 mount at old/ holding V1_ENTRIES."""
    engine = await start_engine()
    bind_clock(monkeypatch, engine)
    await engine.call(Op.UPDATE, "sys/mounts/old", {"type": "kv", "options": {"version": "1"}})
    for path, secret in V1_ENTRIES.items():
        await engine.call(Op.UPDATE, f"old/{path}", secret)
    kv = Kv(engine, mount="old")
    yield kv
    await close_kv(kv)


async def upgrade(kv: Kv) -> None:
    response = await kv.engine.call(Op.UPDATE, "sys/mounts/old/tune", {"options": {"version": "2"}})
    assert response.warnings == [UPGRADE_WARNING]


async def test_upgrading_keeps_every_entry_as_version_one(old: Kv) -> None:
    old.engine.clock.advance(60)
    await upgrade(old)
    info = (await old.engine.call(Op.READ, "sys/mounts")).data
    assert info is not None and info["old/"]["options"] == {"version": "2"}
    for path, secret in V1_ENTRIES.items():
        read = await old.read(path)
        assert read.data == {
            "data": secret,
            "metadata": {
                "version": 1,
                "created_time": "2030-01-01T12:01:00Z",
                "deletion_time": "",
                "destroyed": False,
                "custom_metadata": None,
            },
        }
    meta = await old.metadata("app/db")
    assert (meta["current_version"], meta["oldest_version"], sorted(meta["versions"])) == (1, 1, ["1"])
    assert (await old.call(Op.LIST, "metadata/")).data == {"keys": ["app/", "data/", "top"]}
    assert (await old.call(Op.LIST, "metadata/app")).data == {"keys": ["db", "nested/"]}
    # The v1 spelling now gets the v2 hint, and the next write is version 2.
    assert (await old.call(Op.READ, "app/db")).status == 404
    assert (await old.write("app/db", {"user": "new"}, cas=1))["version"] == 2
    assert await old.secret("app/db", version=1) == {"user": "app", "port": 5432}


async def test_no_v1_entry_is_left_behind_and_a_restart_changes_nothing(old: Kv) -> None:
    await upgrade(old)
    await old.read("top")  # the first request runs the migration
    mount = (await old.engine.call(Op.READ, "sys/mounts")).data["old/"]  # type: ignore[index]
    prefix = f"logical/{mount['uuid']}/"
    stored = await all_keys(old.engine.barrier, prefix)
    assert stored and all(key.startswith(f"{mount['uuid']}/") for key in stored)
    await old.write("top", {"v": "second"})
    stored = await all_keys(old.engine.barrier, prefix)
    await old.restart()
    assert await old.secret("top") == {"v": "second"}
    assert (await old.metadata("top"))["current_version"] == 2
    assert await all_keys(old.engine.barrier, prefix) == stored


async def test_a_downgrade_is_refused_and_v2_data_stays(old: Kv) -> None:
    await upgrade(old)
    error = await old.engine.error(Op.UPDATE, "sys/mounts/old/tune", {"options": {"version": "1"}})
    assert error.status == 400 and error.message == "cannot downgrade mount from version 2"
    assert await old.secret("app/db") == {"user": "app", "port": 5432}


class FailingBatches(PassThrough):
    """A storage view whose batches fail after the first `allowed` ones: a crash part way through."""

    def __init__(self, inner: Storage, allowed: int) -> None:
        super().__init__(inner)
        self.allowed = allowed

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        if self.allowed <= 0:
            raise StorageError("storage went away")
        self.allowed -= 1
        await self.inner.batch(ops)


async def test_an_interrupted_migration_resumes_without_losing_or_repeating_anything() -> None:
    storage = MemoryStorage()
    for index in range(5):
        await storage.put(f"k{index}", b'{"n": %d}' % index)
    mount = MountEntry("old/", "kv", options={"version": "2"})
    backend = KvV2Backend(mount, Clock(START))
    read = Request(Op.READ, "data/k4")
    with pytest.raises(StorageError):
        await backend.handle(read, FailingBatches(storage, allowed=2))
    assert len([key for key in await storage.list("") if not key.endswith("/")]) == 3  # two moved
    # The same backend (or a new one after a restart) carries on with what is left.
    response = await backend.handle(read, storage)
    assert response is not None and response.data is not None and response.data["data"] == {"n": 4}
    for index in range(5):
        meta = await backend.handle(Request(Op.READ, f"metadata/k{index}"), storage)
        assert meta is not None and meta.data is not None and meta.data["current_version"] == 1
    assert await storage.list("") == [f"{mount.uuid}/"]
    restarted = KvV2Backend(mount, Clock(START))
    await restarted.handle(Request(Op.READ, "data/k0"), storage)
    assert (await restarted.handle(Request(Op.READ, "metadata/k0"), storage)).data["current_version"] == 1  # type: ignore[union-attr]
