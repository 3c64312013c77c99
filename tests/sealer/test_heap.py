"""The heap is frozen out of the collector's way while unsealed, and given back at seal."""

from __future__ import annotations

import asyncio
import gc

from sealer.heap import freeze_long_lived


async def test_frozen_while_unsealed_and_unfrozen_at_seal() -> None:
    assert gc.get_freeze_count() == 0
    stop = asyncio.Event()
    job = asyncio.create_task(freeze_long_lived(stop))
    async with asyncio.timeout(10):
        while gc.get_freeze_count() == 0:  # poll, bounded
            await asyncio.sleep(0.01)  # poll
    stop.set()
    await job
    assert gc.get_freeze_count() == 0


async def test_sealed_before_it_started_freezes_nothing() -> None:
    stop = asyncio.Event()
    stop.set()
    await freeze_long_lived(stop)
    assert gc.get_freeze_count() == 0
