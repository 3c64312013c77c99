"""The engine's background work (lease expiry, ...) runs only while unsealed: started at each unseal,
stopped at each seal and at shutdown, always inside the daemon's own task group."""

from __future__ import annotations

import asyncio
import logging

from sealer.heap import freeze_long_lived
from sealer.seal_manager import SealManager

log = logging.getLogger("sealer")


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def supervise(manager: SealManager, shutdown: asyncio.Event) -> None:
    while not shutdown.is_set():
        await _first(manager.unsealed_event, shutdown)
        if shutdown.is_set():
            return
        jobs = [*manager.core.background(), *manager.background(), freeze_long_lived]
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job(stop))
            await _first(manager.sealed_event, shutdown)
            stop.set()
        log.debug("background work stopped (%s)", "shutdown" if shutdown.is_set() else "sealed")
