"""High availability: every daemon unseals, one is active.

The coordinator runs for the daemon's whole life (owned by its lifespan). While this daemon is an
unsealed standby it echoes its presence and tries the HA lock every second; once it holds the lock it
loads the core and serves, checking every second that the lock's session still answers. Losing the lock
(PostgreSQL restarted, the network gone), a step-down, or a seal turns it back into a standby, which
stops its background work (lease expiry) so only one daemon ever runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from engine.errors import StorageError
from engine.storage.postgresql_ha import Node, PostgresHaLock
from sealer.seal_manager import SealManager

log = logging.getLogger("sealer")


@dataclass(frozen=True)
class HaTimings:
    retry: float = 1.0        # a standby's lock attempts
    check: float = 1.0        # the active's check that its lock session answers
    echo: float = 5.0         # heartbeat rows for sys/ha-status
    step_down_pause: float = 10.0  # after a step-down, leave the lock to the others this long
    leader_cache: float = 1.0  # how long a standby trusts its last answer to "who is active?"


class HaCoordinator:
    def __init__(self, manager: SealManager, lock: PostgresHaLock, timings: HaTimings | None = None) -> None:
        self.manager = manager
        self.lock = lock
        self.timings = timings or HaTimings()
        self._step_down = asyncio.Event()
        self._leader: tuple[float, Node | None] | None = None

    @property
    def node_id(self) -> str:
        return self.lock.node_id

    @property
    def active(self) -> bool:
        return self.lock.held and not self.manager.standby and not self.manager.sealed

    def step_down(self) -> None:
        """sys/step-down: give the lock up; another standby takes over."""
        self._step_down.set()

    async def leader(self) -> Node | None:
        """The active node as PostgreSQL's lock manager sees it, cached briefly for forwarding."""
        now = time.monotonic()
        if self._leader is not None and now - self._leader[0] < self.timings.leader_cache:
            return self._leader[1]
        node = await self.lock.leader()
        self._leader = (now, node)
        return node

    async def nodes(self) -> list[Node]:
        return await self.lock.nodes(fresh_within=3 * self.timings.echo)

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await self._setup(stopping)
            while not stopping.is_set():
                await _first(self.manager.standby_event, stopping)
                if stopping.is_set():
                    break
                if not await self._acquire(stopping):
                    continue
                if not await self.manager.become_active():
                    await self.lock.release()
                    continue
                stepped_down = await self._hold(stopping)
                await self.manager.become_standby()
                await self.lock.release()
                self._leader = None
                if stepped_down:
                    log.info("stepped down: leaving the HA lock to the other nodes for %.0fs",
                             self.timings.step_down_pause)
                    await _wait(stopping, self.timings.step_down_pause)
        finally:
            await self.lock.release()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.lock.forget(), timeout=2)

    async def _setup(self, stopping: asyncio.Event) -> None:
        delay = self.timings.retry
        while not stopping.is_set():
            try:
                await self.lock.setup()
                return
            except StorageError as exc:
                log.error("HA: cannot reach PostgreSQL to set up the lock table: %s (retrying in %.0fs)", exc, delay)
            await _wait(stopping, delay)
            delay = min(delay * 2, 30.0)

    async def _acquire(self, stopping: asyncio.Event) -> bool:
        last_echo = 0.0
        reported = False
        while self.manager.standby and not stopping.is_set():
            try:
                if time.monotonic() - last_echo >= self.timings.echo:
                    await self.lock.echo()
                    last_echo = time.monotonic()
                if await self.lock.try_acquire():
                    log.info("HA: this node holds the lock")
                    return True
                reported = False
            except StorageError as exc:
                if not reported:
                    log.error("HA: cannot reach PostgreSQL for the lock: %s", exc)
                    reported = True
            await _wait(stopping, self.timings.retry)
        return False

    async def _hold(self, stopping: asyncio.Event) -> bool:
        """Until the lock is lost, given up or no longer needed. True for a step-down."""
        self._step_down.clear()
        last_echo = time.monotonic()
        while not stopping.is_set():
            await _first_or_timeout(self.timings.check, stopping, self._step_down, self.manager.sealed_event)
            if stopping.is_set() or self.manager.sealed:
                return False
            if self._step_down.is_set():
                self._step_down.clear()
                return True
            try:
                await self.lock.check()
            except StorageError as exc:
                log.error("HA: lost the lock (%s): becoming a standby", exc)
                return False
            if time.monotonic() - last_echo >= self.timings.echo:
                with contextlib.suppress(StorageError):
                    await self.lock.echo()
                last_echo = time.monotonic()
        return False


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


async def _first(*events: asyncio.Event) -> None:
    await _first_or_timeout(None, *events)


async def _first_or_timeout(seconds: float | None, *events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
