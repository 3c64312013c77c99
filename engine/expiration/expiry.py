"""Revoking what is due, several leases at once (Vault's pool of revocation workers, 200 there).

One at a time, each revocation waits for its own durable writes (an fsync each) before the next
starts, so the storage never has two writes to commit together. With up to `workers` revocations
running, their writes queue up while a commit runs and share the next one (the SQLite storage's group
commit). Each lease keeps its own outcome: retries, backoff and irrevocability are per lease (see
retry.py), and in_flight.py keeps two workers from revoking the same lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from engine.errors import Sealed
from engine.expiration.schedule import Schedule

log = logging.getLogger("engine.expiration")

WORKERS = 64

# Expire one lease (by id) as of the moment being handled.
Expire = Callable[[str], Awaitable[None]]


async def expire_due(
    schedule: Schedule,
    now: float,
    expire: Expire,
    *,
    workers: int = WORKERS,
    retry_in: float,
    stopping: asyncio.Event | None = None,
) -> int:
    """Take every lease due at `now` off the schedule and expire it, up to `workers` at once, until
    none is due or `stopping` is set; returns how many were handled. A lease whose handling fails
    unexpectedly (storage trouble while recording a failure) is due again `retry_in` seconds later.
    Sealed stops the round: the leases not handled stay scheduled, and Sealed is raised."""
    first = schedule.pop_due(now, workers)
    if not first:
        return 0
    handled = 0
    sealed: list[Sealed] = []

    def next_lease() -> str | None:
        if sealed or (stopping is not None and stopping.is_set()):
            return None
        more = schedule.pop_due(now, 1)
        return more[0] if more else None

    async def worker(lease_id: str | None) -> None:
        nonlocal handled
        while lease_id is not None:
            try:
                await expire(lease_id)
            except Sealed as exc:
                schedule.set(lease_id, now)
                sealed.append(exc)
                return
            except Exception:
                log.exception("unexpected error expiring lease %s", lease_id)
                schedule.set(lease_id, now + retry_in)
            handled += 1
            lease_id = next_lease()

    async with asyncio.TaskGroup() as group:
        for lease_id in first:
            group.create_task(worker(lease_id))
    if sealed:
        raise sealed[0]
    return handled
