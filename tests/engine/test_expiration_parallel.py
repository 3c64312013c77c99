"""Due leases are revoked several at once, so their durable writes share commits; and a lease reached by
two revocations together (a token tree and its child's own expiry, an operator and the expiry) is
revoked once, its failure recorded once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from engine.barrier import Barrier
from engine.errors import BadRequest
from engine.expiration import SECRET, ExpirationManager, LeaseEntry, RetryPolicy
from engine.expiration.store import LeaseStore
from engine.expiration.token_link import StoreLink
from engine.framework import SecretLease
from engine.mounts import MountEntry
from engine.request import Op
from engine.router import Route
from engine.storage.base import BatchOp, Storage
from engine.storage.memory import MemoryStorage
from engine.storage.sqlite import SqliteStorage
from engine.storage.view import View
from engine.tokens import TokenStore
from tests.engine.leasing import START, Clock, CredsBackend, Unreachable, World, make_world, unsealed_barrier
from tests.engine.storage_doubles import PassThrough

HOUR = 3600
MINUTE = timedelta(seconds=60)
T0 = START.timestamp()


class Yielding:
    """Memory storage that gives the event loop a turn on every call, as a real storage's I/O does, so
    concurrent revocations interleave at each step."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()

    async def get(self, key: str) -> bytes | None:
        await asyncio.sleep(0)
        return await self.inner.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await asyncio.sleep(0)
        await self.inner.put(key, value)

    async def delete(self, key: str) -> None:
        await asyncio.sleep(0)
        await self.inner.delete(key)

    async def list(self, prefix: str) -> list[str]:
        await asyncio.sleep(0)
        return await self.inner.list(prefix)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        await asyncio.sleep(0)
        await self.inner.batch(ops)


class GatedBackend(CredsBackend):
    """Revocation waits at a gate, so a test can act while one is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.calls = 0

    async def revoke_secret(self, lease: SecretLease, storage: Storage) -> None:
        self.calls += 1
        self.entered.set()
        await self.gate.wait()
        await super().revoke_secret(lease, storage)


def manager_over(
    storage: Storage, backend: CredsBackend, clock: Clock | None = None, **options: object
) -> ExpirationManager:
    mount = MountEntry("db/", "creds")
    route = Route(mount, backend, View(storage, "logical/db/"))
    return ExpirationManager(
        storage,
        routes=lambda path: route if path.startswith(mount.path) else None,
        tokens=StoreLink(TokenStore(storage)),
        clock=clock or Clock(),
        **options,  # type: ignore[arg-type]
    )


def secret_lease(n: int, ttl: int = 60) -> LeaseEntry:
    return LeaseEntry(
        lease_id=f"db/creds/app/{n:06d}", kind=SECRET, path="db/creds/app", issue_time=T0, expire_time=T0 + ttl,
        ttl=ttl, renewable=True, internal_data={"username": f"user-{n}"},
    )


@pytest.fixture
async def sqlite_barrier(tmp_path: Path) -> AsyncIterator[tuple[SqliteStorage, Barrier]]:
    storage = await SqliteStorage.open(tmp_path / "leases.db")
    barrier = await unsealed_barrier(storage)
    yield storage, barrier
    barrier.seal()
    await storage.close()


async def test_1000_due_leases_are_revoked_once_each_sharing_commits(
    sqlite_barrier: tuple[SqliteStorage, Barrier],
) -> None:
    sqlite, barrier = sqlite_barrier
    backend = CredsBackend()
    manager = manager_over(barrier, backend)
    count = 1000
    await LeaseStore(barrier).save_many(secret_lease(n) for n in range(count))
    assert await manager.load() == count

    commits = sqlite.commits
    assert await manager.expire_due(START + MINUTE) == count
    assert sorted(backend.revoked) == sorted(f"user-{n}" for n in range(count))  # every one, and each once
    assert await LeaseStore(barrier).ids_under("") == [] and len(manager) == 0
    # One lease at a time, each revocation's write is a commit (an fsync) of its own.
    used = sqlite.commits - commits
    print(f"\n[expiration] {count} leases revoked in {used} commits")
    assert used < count // 4


async def test_a_parent_and_its_child_expiring_together_revoke_the_childs_secrets_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world: World = await make_world(monkeypatch, Yielding())
    parent, _ = await world.token(policies=["root"], ttl="60s")
    child_auth = (await world.call(Op.UPDATE, "auth/token/create", {"ttl": "60s"}, token=parent)).auth
    assert child_auth is not None
    child = child_auth["client_token"]
    for owner, token in (("parent", parent), ("child", child), ("child", child)):
        await world.lease(f"db/creds/{owner}", token=token, ttl=HOUR)

    world.clock.advance(60)
    with caplog.at_level(logging.WARNING, logger="engine"):
        assert await world.core.expiration.tick() == 2  # both token leases, in the same round
    assert sorted(world.engines["creds"].revoked) == ["child-1", "child-2", "parent-0"]
    assert [record.getMessage() for record in caplog.records] == []  # no failure, no double revoke error
    assert len(world.core.expiration) == 0
    world.barrier.seal()


async def _operator_revoke_during_expiry(
    backend: GatedBackend, **options: RetryPolicy
) -> tuple[Barrier, ExpirationManager, LeaseEntry, asyncio.Task[int], asyncio.Task[None]]:
    """One lease whose expiry is held inside the backend's revoke, and an operator's revoke of it started
    meanwhile: (barrier, manager, lease, the expiry task, the operator's task)."""
    barrier = await unsealed_barrier()
    manager = manager_over(barrier, backend, **options)
    lease = secret_lease(1)
    await LeaseStore(barrier).save(lease)
    await manager.load()
    expiring = asyncio.create_task(manager.expire_due(START + MINUTE))
    async with asyncio.timeout(5):
        await backend.entered.wait()
    operator = asyncio.create_task(manager.revoke(lease.lease_id))
    await asyncio.sleep(0)
    return barrier, manager, lease, expiring, operator


async def test_an_operator_revoke_during_the_expirys_joins_it() -> None:
    backend = GatedBackend()
    barrier, _, lease, expiring, operator = await _operator_revoke_during_expiry(backend)
    assert not operator.done()  # waiting for the revocation in flight, not starting its own
    backend.gate.set()
    async with asyncio.timeout(5):
        assert await expiring == 1
        await operator
    assert backend.calls == 1 and backend.revoked == ["user-1"]
    assert await LeaseStore(barrier).get(lease.lease_id) is None


async def test_a_joined_failure_is_recorded_once_and_reported_to_the_operator() -> None:
    backend = GatedBackend()
    backend.fail = Unreachable("down")
    barrier, manager, lease, expiring, operator = await _operator_revoke_during_expiry(
        backend, retry=RetryPolicy(jitter=lambda: 0.5)
    )
    backend.gate.set()
    async with asyncio.timeout(5):
        await expiring
        with pytest.raises(BadRequest, match="failed to revoke entry: down"):
            await operator
    stored = await LeaseStore(barrier).get(lease.lease_id)
    assert backend.calls == 1
    assert stored is not None and stored.revoke_attempts == 1 and stored.next_revoke_time == T0 + 60 + 20
    assert len(manager) == 1  # still scheduled for its retry


class HeldRead(PassThrough):
    """Storage where, once armed, a read of one key returns only when released (its value read before
    the hold): a caller left holding an entry that goes stale meanwhile. It wraps the barrier, whose
    cache of decrypted values would answer a read of the physical storage before it is held."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner)
        self.key = ""
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        value = await self.inner.get(key)
        if key == self.key:
            self.reading.set()
            await self.release.wait()
        return value


async def test_a_lease_read_before_another_revocation_finished_is_not_revoked_again() -> None:
    storage = HeldRead(await unsealed_barrier())
    tokens = TokenStore(storage)
    await tokens.setup()
    _, holder = await tokens.create(policies=["root"], path="auth/token/create", display_name="t", ttl=HOUR)
    backend = GatedBackend()
    manager = manager_over(storage, backend)
    lease = await manager.register_secret(
        path="db/creds/app", ttl=60, max_ttl=0, renewable=True, internal_data={"username": "app"}, token=holder
    )

    operator = asyncio.create_task(manager.revoke(lease.lease_id))
    async with asyncio.timeout(5):
        await backend.entered.wait()
    # The holder's revocation reads the lease while the operator's is still in the backend...
    storage.key = f"sys/expire/id/{lease.lease_id}"
    by_token = asyncio.create_task(manager.revoke_by_token(holder))
    async with asyncio.timeout(5):
        await storage.reading.wait()
    # ...and goes on only after it is over and the lease gone.
    backend.gate.set()
    async with asyncio.timeout(5):
        await operator
    storage.release.set()
    async with asyncio.timeout(5):
        await by_token
    assert backend.calls == 1 and backend.revoked == ["app"]


async def test_stopping_mid_round_leaves_the_rest_scheduled() -> None:
    # A step-down keeps the barrier open: only the event keeps a standby from revoking what the new
    # active node now owns.
    barrier = await unsealed_barrier()
    backend = GatedBackend()
    clock = Clock()
    manager = manager_over(barrier, backend, clock, workers=1)
    await LeaseStore(barrier).save_many(secret_lease(n) for n in range(3))
    await manager.load()
    clock.advance(60)
    stopping = asyncio.Event()
    runner = asyncio.create_task(manager.run(stopping))
    async with asyncio.timeout(5):
        await backend.entered.wait()
    stopping.set()
    backend.gate.set()
    async with asyncio.timeout(5):
        await runner
    assert backend.calls == 1 and len(backend.revoked) == 1
    assert len(await LeaseStore(barrier).ids_under("")) == 2 and len(manager) == 2
