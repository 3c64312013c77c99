"""Scheduling the persisted leases after unseal, in the background (Vault's Restore, which runs in a
goroutine after unseal while requests are already answered).

Storage is the truth about every lease: renew, revoke, lookup and revoke-prefix read the entry itself,
never the schedule, so they behave during the restore exactly as after it. What the restore must not do
is undo what happened meanwhile: its listing of the due index may predate a renewal, a revocation, a
remount or a new lease. So each lease whose schedule the manager changes while the restore runs is
noted as settled, and the restore leaves settled leases (and any already scheduled) alone.

The due index is listed a bucket at a time (see store.py) and parsed and scheduled a chunk at a time,
giving the event loop back in between, so requests are answered while 100,000 leases are restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from engine.errors import Sealed
from engine.expiration.schedule import Schedule
from engine.expiration.store import Due, LeaseStore, parse_due

log = logging.getLogger("engine.expiration")

# Due index names parsed and scheduled between two turns of the event loop (a few milliseconds' work).
_CHUNK = 2048


class Restore:
    def __init__(
        self, store: LeaseStore, schedule: Schedule, irrevocable: set[str], on_done: Callable[[], None]
    ) -> None:
        self._store = store
        self._schedule = schedule
        self._irrevocable = irrevocable
        self._on_done = on_done
        self._settled: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.done = False
        self.restored = 0  # leases scheduled by the restore so far (progress)

    def settle(self, lease_id: str) -> None:
        """The manager has just (re)scheduled or dropped `lease_id`: what the restore listed for it may
        be stale."""
        if not self.done:
            self._settled.add(lease_id)

    async def wait(self) -> None:
        """Until every persisted lease is scheduled. Starts the restore if none is running (again, if
        the last one failed or was stopped); a failure of the restore is raised here."""
        if self.done:
            return
        task = self._task
        if task is None or task.done():
            task = self._task = asyncio.create_task(self._restore(), name="lease-restore")
        try:
            # Shielded: a waiter being cancelled (a request whose client left) must not stop the restore
            # for every other waiter.
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this waiter itself is being cancelled
            # Stopped by a seal or a step-down: what a request racing one is answered.
            raise Sealed() from None

    async def wait_or_stop(self, stopping: asyncio.Event) -> bool:
        """wait(), unless `stopping` is set first: then the restore is cancelled (it has only filled in
        the schedule, which a later restore completes) and the answer is False."""
        if self.done:
            return True
        waiting = asyncio.ensure_future(self.wait())
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait((waiting, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not waiting.done():
                waiting.cancel()
                self.stop()
            # Never raises: it waits for the cancellations to land, without an exception of its own.
            await asyncio.wait((waiting, stop))
        if waiting.cancelled() or (stopping.is_set() and waiting.exception() is not None):
            return False
        waiting.result()  # the restore's failure, if it failed
        return True

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _restore(self) -> None:
        began = time.perf_counter()
        async with contextlib.aclosing(self._store.due_batches()) as batches:
            async for names in batches:
                for start in range(0, len(names), _CHUNK):
                    self._schedule_listed(list(parse_due(names[start : start + _CHUNK])))
                    await asyncio.sleep(0)
        self.done = True
        self._settled.clear()
        self.restored = len(self._schedule)
        if self.restored:
            log.info("restored %d leases in %.2f s", self.restored, time.perf_counter() - began)
        self._on_done()

    def _schedule_listed(self, listed: list[Due]) -> None:
        added = self._schedule.add_missing(((found.lease_id, found.due) for found in listed), self._settled)
        if len(added) < len(listed):
            kept = set(added)
            self._irrevocable.update(found.lease_id for found in listed if found.irrevocable and found.lease_id in kept)
        else:
            self._irrevocable.update(found.lease_id for found in listed if found.irrevocable)
        self.restored = len(self._schedule)
