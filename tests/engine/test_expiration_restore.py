"""Leases are restored in the background after unseal (as Vault's Restore): requests are answered while
the restore runs, and what they do meanwhile (renew, revoke, lookup, revoke-prefix, new leases) is
neither lost nor undone by it; leases past due at start are revoked once it is done; a seal or a
step-down stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.errors import Sealed, StorageError
from engine.request import Op
from engine.storage.base import children
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from tests.engine.leasing import World, make_world
from tests.engine.storage_doubles import PassThrough

HOUR = 3600
DUE_INDEX = "sys/expire/due/"


class HeldListing(PassThrough):
    """Memory storage whose listing of the lease due index, once held, is taken and then kept back until
    released; the restore then goes on listing the index as it was when first listed. So it stops
    mid-way, with listings that everything done meanwhile makes stale."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage())
        self.held = False
        self.listing = asyncio.Event()  # set once the restore has listed and is waiting
        self.release = asyncio.Event()
        self.abandoned = False  # the held listing's caller was cancelled
        self.fail_next_listing = False  # the next listing of the due index fails (a storage outage)
        self._frozen: list[str] = []

    async def list(self, prefix: str) -> list[str]:
        if self.fail_next_listing and prefix == DUE_INDEX:
            self.fail_next_listing = False
            raise StorageError("storage unreachable")
        if not (self.held and prefix.startswith(DUE_INDEX)):
            return await self.inner.list(prefix)
        if prefix != DUE_INDEX:
            return children(self._frozen, prefix)
        self._frozen = [DUE_INDEX + key for key in await all_keys(self.inner, DUE_INDEX)]
        self.listing.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.abandoned = True
            raise
        return children(self._frozen, prefix)


class Restarted:
    """A world restarted over held storage, its expiration manager running as the daemon runs it."""

    def __init__(self, world: World, storage: HeldListing) -> None:
        self.world, self.storage = world, storage
        self.stopping = asyncio.Event()
        self.runner: asyncio.Task[None] | None = None

    async def restart_held(self) -> None:
        self.storage.held = True
        async with asyncio.timeout(5):
            await self.world.restart()  # answering from here: setup waits for no lease
        self.runner = asyncio.create_task(self.world.core.expiration.run(self.stopping))
        async with asyncio.timeout(5):
            await self.storage.listing.wait()
        assert self.world.core.expiration.restoring

    async def finish_restore(self) -> None:
        """Let the restore complete, then stop run() so the test's own ticks are the only expiry."""
        self.storage.release.set()
        async with asyncio.timeout(5):
            await self.world.core.expiration.load()
        assert not self.world.core.expiration.restoring
        await self.stop()

    async def stop(self) -> None:
        self.stopping.set()
        if self.runner is not None:
            async with asyncio.timeout(5):
                await self.runner

    async def tick(self) -> int:
        return await self.world.core.expiration.tick()


@pytest.fixture
async def held(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Restarted]:
    storage = HeldListing()
    world = await make_world(monkeypatch, storage)
    restarted = Restarted(world, storage)
    yield restarted
    storage.release.set()
    await restarted.stop()
    world.barrier.seal()


async def count_all(world: World) -> int:
    data = (await world.call(Op.READ, "sys/leases/count", {"type": "all"})).data
    assert data is not None
    return int(data["lease_count"])


async def test_requests_are_answered_while_the_restore_is_held(held: Restarted) -> None:
    world = held.world
    kept = [await world.lease(f"db/creds/kept{i}", ttl=HOUR) for i in range(3)]
    await held.restart_held()

    # The restore has not scheduled a thing, yet requests are served from storage.
    assert len(world.core.expiration) == 0
    assert (await world.lookup(kept[0].lease_id))["ttl"] == HOUR
    issued = await world.lease("db/creds/new", ttl=60)
    token, _ = await world.token(policies=["root"], ttl="1h")
    assert token

    await held.finish_restore()
    assert await count_all(world) == 3 + 1 + 1  # the leases from before, the new lease, the new token's
    world.clock.advance(60)
    assert await held.tick() == 1 and world.engines["creds"].revoked == ["new-3"]
    assert not await world.exists(issued.lease_id)


async def test_renew_revoke_lookup_and_revoke_prefix_mid_restore_stay_done(held: Restarted) -> None:
    world = held.world
    engine = world.engines["creds"]
    shortened = await world.lease("db/creds/short", ttl=HOUR)  # renewed below to a minute
    revoked = await world.lease("db/creds/gone", ttl=HOUR)
    group = [await world.lease("db/creds/group", ttl=HOUR) for _ in range(2)]
    looked = await world.lease("db/creds/looked", ttl=2 * HOUR)
    await held.restart_held()

    engine.renew_ttl = 60
    renewed = await world.call(Op.UPDATE, "sys/leases/renew", {"lease_id": shortened.lease_id})
    assert renewed.lease_duration == 60
    await world.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": revoked.lease_id})
    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/db/creds/group")
    assert not any([await world.exists(lease.lease_id) for lease in group])
    shown = await world.lookup(looked.lease_id)
    assert shown["ttl"] == 2 * HOUR and shown["renewable"] is True
    assert sorted(engine.revoked) == ["gone-1", "group-2", "group-3"]

    # The restore's listing predates all that: it must neither bring back what went nor undo the renewal.
    await held.finish_restore()
    assert await count_all(world) == 2
    world.clock.advance(60)
    assert await held.tick() == 1  # the renewal's minute, not the listed hour
    assert engine.revoked[-1] == "short-0"
    world.clock.advance(2 * HOUR)
    assert await held.tick() == 1
    assert sorted(engine.revoked) == ["gone-1", "group-2", "group-3", "looked-4", "short-0"]  # each once
    assert len(world.core.expiration) == 0


async def test_leases_past_due_at_start_are_revoked_after_it_not_before(held: Restarted) -> None:
    world = held.world
    engine = world.engines["creds"]
    expired = await world.lease("db/creds/expired", ttl=60)
    alive = await world.lease("db/creds/alive", ttl=HOUR)
    world.clock.advance(120)  # the daemon was down while it expired
    await held.restart_held()
    assert engine.revoked == []  # answering already, nothing revoked yet
    assert await world.exists(expired.lease_id)

    held.storage.release.set()
    async with asyncio.timeout(5):
        while not engine.revoked:  # bounded poll: run() revokes it once the restore is done
            await asyncio.sleep(0)
    assert engine.revoked == ["expired-0"]
    assert not await world.exists(expired.lease_id) and await world.exists(alive.lease_id)


async def test_a_seal_during_the_restore_stops_it(held: Restarted) -> None:
    world = held.world
    await world.lease("db/creds/a", ttl=60)
    await held.restart_held()
    manager = world.core.expiration
    world.barrier.seal()
    await held.stop()  # the daemon sets the event on seal: run() returns without the listing coming back
    assert held.storage.abandoned
    assert manager.restoring and len(manager) == 0


async def test_a_step_down_during_the_restore_stops_it_and_a_later_restore_completes(held: Restarted) -> None:
    world = held.world
    lease = await world.lease("db/creds/a", ttl=60)
    await held.restart_held()
    manager = world.core.expiration
    await held.stop()  # a standby keeps the barrier open: only the event stops the restore
    assert held.storage.abandoned and manager.restoring and len(manager) == 0

    held.storage.held = False
    assert await manager.load() == 1  # restored afresh when asked again
    world.clock.advance(60)
    assert await manager.tick() == 1 and not await world.exists(lease.lease_id)


async def test_a_restore_stopped_by_a_seal_fails_its_waiters_as_sealed(held: Restarted) -> None:
    world = held.world
    await world.lease("db/creds/a", ttl=60)
    await held.restart_held()
    waiter = asyncio.create_task(world.core.expiration.irrevocable())  # waits for the restore
    await asyncio.sleep(0)
    world.barrier.seal()
    await held.stop()
    with pytest.raises(Sealed):
        async with asyncio.timeout(5):
            await waiter


async def test_a_failed_restore_is_tried_again(held: Restarted) -> None:
    world = held.world
    await world.lease("db/creds/a", ttl=60)
    await world.restart()
    manager = world.core.expiration
    held.storage.fail_next_listing = True
    with pytest.raises(StorageError):
        await manager.load()
    assert manager.restoring
    assert await manager.load() == 1
