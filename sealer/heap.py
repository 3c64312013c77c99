"""While unsealed, the objects that live until the next seal are kept out of the garbage collector's way.

Everything imported and the core's objects (policies, mount tables, compiled ACLs, caches) live from unseal
to seal, yet every full collection walked all of them again: under load that walk held the event loop (and
with it every request and the pkcs11 worker's results) for tens of milliseconds, most of the p99 tail (HSM
transit p99 ~52 -> 15-17 ms, KV v2 writes 40-45 -> 25-33 ms). So at each unseal, once the core is loaded,
the heap is frozen (gc.freeze: the collector skips those objects from then on; any of them freed by
reference counting is still freed). It is frozen as it is, without a collection first: that collection
held up the first requests after an unseal by ~50 ms, while the little cyclic garbage frozen along waits
for the seal. What comes later (leases restored in the background, caches filling) is collected as usual.
At seal the heap is unfrozen, so what the old core leaves in reference cycles is collected again.
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
    gc.freeze()
    log.debug("froze %d long-lived objects out of the garbage collector's way", gc.get_freeze_count())
    try:
        await stop.wait()
    finally:
        gc.unfreeze()
