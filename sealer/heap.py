"""While unsealed, the objects that live until the next seal are kept out of the garbage collector's way.

Everything imported and the core's objects (policies, mount tables, compiled ACLs, caches) live from unseal
to seal, yet every full collection walked all of them again: under load that walk held the event loop (and
with it every request and the pkcs11 worker's results) for tens of milliseconds, most of the p99 tail (HSM
transit p99 ~52 -> 15-17 ms, KV v2 writes 40-45 -> 25-33 ms). So at each unseal, once the core is loaded,
the heap is collected once and frozen (gc.freeze: the collector skips those objects from then on; any of
them freed by reference counting is still freed). Done at unseal, the one collection's pause falls before
the load, not in it. What comes later (leases restored in the background, caches filling) is collected as
usual. At seal the heap is unfrozen, so what the old core leaves in reference cycles is collected again.
"""

from __future__ import annotations

import asyncio
import gc
import logging

log = logging.getLogger("sealer")


async def freeze_long_lived(stop: asyncio.Event) -> None:
    """A background job (sealer/background.py): runs from unseal until `stop` (seal or shutdown)."""
    if stop.is_set():
        return
    gc.collect()
    gc.freeze()
    log.debug("froze %d long-lived objects out of the garbage collector's way", gc.get_freeze_count())
    try:
        await stop.wait()
    finally:
        gc.unfreeze()
