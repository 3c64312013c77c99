"""The expiration manager on its own, over a real barrier: its schedule, start-up from the due index
(100,000 leases), backoff, storage trouble, remounts, and its one background task."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Sequence

import pytest

from engine.barrier import Barrier
from engine.errors import StorageError
from engine.expiration import SECRET, ExpirationManager, LeaseEntry, RetryPolicy
from engine.expiration.schedule import Schedule
from engine.expiration.store import LeaseStore
from engine.expiration.token_link import StoreLink, link
from engine.mounts import MountEntry
from engine.router import Route
from engine.storage.base import BatchOp, Delete, Put, Storage
from engine.storage.memory import MemoryStorage
from engine.storage.view import View
from engine.tokens import TokenEntry, TokenStore
from tests.engine.leasing import START, Clock, CredsBackend, Unreachable, unsealed_barrier
from tests.engine.storage_doubles import PassThrough

T0 = START.timestamp()


class CountingStorage(PassThrough):
    """A real store seen through the Storage interface, counting reads and failing writes on demand."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner)
        self.gets = 0
        self.fail_writes = False

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        return await self.inner.get(key)

    async def put(self, key: str, value: bytes) -> None:
        if self.fail_writes:
            raise StorageError("disk full")
        await self.inner.put(key, value)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        if self.fail_writes:
            raise StorageError("disk full")
        await self.inner.batch(ops)


class Setup:
    def __init__(self, storage: CountingStorage, tokens: TokenStore, backend: CredsBackend, mount: MountEntry) -> None:
        self.storage, self.tokens, self.backend, self.mount = storage, tokens, backend, mount
        self.clock = Clock()
        self.mounted = True
        self.barrier: Barrier | None = None
        self.route = Route(mount, backend, View(storage, "logical/db/"))

    def manager(self, **options: object) -> ExpirationManager:
        return ExpirationManager(
            self.storage,
            routes=lambda path: self.route if self.mounted and path.startswith(self.mount.path) else None,
            tokens=StoreLink(self.tokens),
            clock=self.clock,
            **options,  # type: ignore[arg-type]
        )

    async def token(self) -> TokenEntry:
        _, entry = await self.tokens.create(policies=["root"], path="auth/token/create", display_name="t", ttl=3600)
        return entry


async def make_setup(physical: Storage) -> Setup:
    storage = CountingStorage(physical)
    tokens = TokenStore(storage)
    await tokens.setup()
    return Setup(storage, tokens, CredsBackend(), MountEntry("db/", "creds"))


@pytest.fixture
async def setup() -> Setup:
    barrier = await unsealed_barrier()
    made = await make_setup(barrier)
    made.barrier = barrier
    return made


async def issue(manager: ExpirationManager, token: TokenEntry, path: str = "db/creds/app", ttl: int = 60) -> str:
    entry = await manager.register_secret(
        path=path, ttl=ttl, max_ttl=0, renewable=True, internal_data={"username": path.rsplit("/", 1)[1]}, token=token
    )
    return entry.lease_id


# --- the schedule --------------------------------------------------------------------------------


def test_the_schedule_gives_leases_back_earliest_first() -> None:
    schedule = Schedule()
    assert schedule.set("b", 20.0) is True
    assert schedule.set("a", 10.0) is True  # earlier than anything: wake the runner
    assert schedule.set("c", 30.0) is False
    schedule.set("b", 5.0)  # rescheduled; its old time is now stale
    schedule.discard("c")
    assert schedule.next_due() == 5.0 and len(schedule) == 2 and "c" not in schedule
    assert schedule.pop_due(15.0, limit=10) == ["b", "a"]
    assert schedule.pop_due(100.0, limit=10) == [] and schedule.next_due() is None


def test_stale_heap_items_do_not_pile_up() -> None:
    schedule = Schedule()
    for round_ in range(20):
        for i in range(1000):
            schedule.set(f"lease-{i}", float(round_ * 1000 + i))
    assert len(schedule) == 1000
    assert len(schedule._heap) <= 2 * 1000 + 1024  # compacted, not 20,000 items
    assert schedule.pop_due(1e9, limit=1)[0] == "lease-0"


# --- start-up ------------------------------------------------------------------------------------


async def test_100k_leases_load_from_the_due_index_alone(capsys: pytest.CaptureFixture[str]) -> None:
    # Plain memory under the manager: start-up decrypts nothing, so the barrier would only slow the
    # writing of the 100,000 entries this test starts from.
    setup = await make_setup(MemoryStorage())
    count = 100_000
    store = LeaseStore(setup.storage)
    for start in range(0, count, 20_000):
        await store.save_many(
            LeaseEntry(
                lease_id=f"db/creds/role{i % 100}/{i:024d}",
                kind=SECRET,
                path=f"db/creds/role{i % 100}",
                issue_time=T0,
                expire_time=T0 + 60 + i,
                ttl=60 + i,
                renewable=True,
                internal_data={"username": f"user-{i}"},
                token_hash="ab" * 32,
            )
            for i in range(start, start + 20_000)
        )

    setup.storage.gets = 0
    began = time.perf_counter()
    manager = setup.manager()
    assert await manager.load() == count
    elapsed = time.perf_counter() - began
    assert setup.storage.gets == 0  # ids and due times only: not one entry read or decrypted

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        traced = setup.manager()
        await traced.load()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(traced) == count
    assert retained / count < 1024  # a schedule item per lease, never the entries
    with capsys.disabled():
        print(f"\n[expiration] loaded {count} leases in {elapsed:.2f}s, {retained / 1e6:.1f} MB "
              f"({retained / count:.0f} B per lease)")

    setup.clock.advance(60)
    assert await manager.expire_due() == 1  # the earliest is the first due
    assert setup.backend.revoked == ["user-0"]


async def test_a_due_index_from_before_the_buckets_is_restored_and_moved_on_write(setup: Setup) -> None:
    manager = setup.manager()
    lease_id = await issue(manager, await setup.token(), ttl=60)
    store = LeaseStore(setup.storage)
    entry = await store.get(lease_id)
    assert entry is not None
    bucket, flat = entry.due_key.split("/", 1)
    # Rewritten as stored before the buckets: the due name straight under due/.
    entry.due_key = flat
    await setup.storage.batch([
        Delete(f"sys/expire/due/{bucket}/{flat}"), Put(f"sys/expire/due/{flat}", b""),
        Put(f"sys/expire/id/{lease_id}", entry.to_json()),
    ])

    restarted = setup.manager()
    assert await restarted.load() == 1
    setup.backend.renew_ttl = 120
    await restarted.renew(lease_id, 0)
    assert await setup.storage.list("sys/expire/due/") == [f"{bucket}/"]  # moved into its bucket
    setup.clock.advance(120)
    assert await restarted.expire_due() == 1 and setup.backend.revoked == ["app"]
    assert await setup.storage.list("sys/expire/due/") == []


# --- failures ------------------------------------------------------------------------------------


async def test_backoff_doubles_from_vaults_base(setup: Setup) -> None:
    manager = setup.manager(retry=RetryPolicy(jitter=lambda: 0.5))  # no spread: exactly base * 2^attempt
    lease_id = await issue(manager, await setup.token())
    setup.backend.fail = Unreachable("down")
    setup.clock.advance(60)
    waits = []
    for _ in range(5):
        await manager.expire_due()
        entry = await LeaseStore(setup.storage).get(lease_id)
        assert entry is not None and entry.next_revoke_time is not None
        waits.append(entry.next_revoke_time - setup.clock.now.timestamp())
        setup.clock.advance(waits[-1])
    assert waits == [20, 40, 80, 160, 320]


async def test_a_lease_whose_mount_is_gone_is_irrevocable_at_once(setup: Setup) -> None:
    manager = setup.manager()
    lease_id = await issue(manager, await setup.token())
    setup.mounted = False  # as if a crash came between unmounting and revoking
    setup.clock.advance(60)
    await manager.expire_due()
    shown = await manager.lookup(lease_id)
    assert shown["irrevocable"] is True and shown["revoke_attempts"] == 1
    assert shown["revoke_error"] == (
        'failed to revoke entry: no handler for route "db/creds/app". route entry not found.'
    )
    assert manager.count("irrevocable") == {"lease_count": 1, "counts": {"mount-accessor-not-found": 1}}


async def test_storage_trouble_while_expiring_keeps_the_lease_scheduled(setup: Setup) -> None:
    manager = setup.manager()
    lease_id = await issue(manager, await setup.token())
    setup.backend.fail = Unreachable("down")
    setup.storage.fail_writes = True  # recording the failed attempt fails too
    setup.clock.advance(60)
    assert await manager.expire_due() == 1
    assert len(manager) == 1  # still scheduled, in memory at least
    setup.storage.fail_writes = False
    setup.backend.fail = None
    setup.clock.advance(10)
    await manager.expire_due()
    assert setup.backend.revoked == ["app"] and await LeaseStore(setup.storage).get(lease_id) is None


# --- remounts ------------------------------------------------------------------------------------


async def test_move_prefix_rekeys_leases_and_their_indexes(setup: Setup) -> None:
    manager = setup.manager()
    token = await setup.token()
    link(setup.tokens, manager)
    lease_id = await issue(manager, token, "db/creds/app", ttl=60)
    await manager.move_prefix("db/", "moved/")
    moved_id = "moved/" + lease_id.removeprefix("db/")
    assert await manager.list("db/creds") == []
    assert await manager.list("moved/creds/app/") == [lease_id.rsplit("/", 1)[1]]
    setup.mount.path = "moved/"
    # Revoking the token finds the lease under its new id; the backend gets the same path below the mount.
    await setup.tokens.revoke_tree(token)
    assert setup.backend.revoked == ["app"]
    assert await LeaseStore(setup.storage).get(moved_id) is None and len(manager) == 0


async def test_a_restart_after_a_move_schedules_the_new_ids(setup: Setup) -> None:
    manager = setup.manager()
    lease_id = await issue(manager, await setup.token(), "db/creds/app", ttl=60)
    await manager.move_prefix("db/", "moved/")
    restarted = setup.manager()
    assert await restarted.load() == 1
    assert restarted.count("all") is not None
    assert await restarted.lookup("moved/" + lease_id.removeprefix("db/"))


# --- the task ------------------------------------------------------------------------------------


async def test_run_ends_when_the_barrier_seals(setup: Setup) -> None:
    manager = setup.manager()
    await issue(manager, await setup.token())
    setup.clock.advance(60)
    assert setup.barrier is not None
    setup.barrier.seal()
    stopping = asyncio.Event()
    async with asyncio.timeout(5):
        await manager.run(stopping)  # returns by itself: nothing can be revoked while sealed
    assert not stopping.is_set() and setup.backend.revoked == []
