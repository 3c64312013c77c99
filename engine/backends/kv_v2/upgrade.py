"""Turning a KV v1 mount's entries into versioned ones when the mount is upgraded to v2 (Vault's
Upgrade). Every v1 entry, stored at the root of the mount's view, becomes version 1 of the same path;
the v2 records live under their own prefix, so what remains at the root is exactly what is left to do.

Each entry moves in one storage batch (version, metadata, removal of the v1 entry), so the migration
can stop anywhere (a crash, a seal) and resume on the next request: it is done only once the marker
says so. Requests wait for it instead of getting Vault's "Upgrading from non-versioned to versioned
data" error, since the migration runs as part of the first request after the upgrade.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from engine.backends.kv_v2.records import KeyMetadata
from engine.backends.kv_v2.store import KvStore
from engine.storage.base import Delete, Storage
from engine.tokens.entry import Clock


async def _v1_keys(storage: Storage, own_prefix: str) -> list[str]:
    """Every key in the view outside the v2 records' folder."""
    keys: list[str] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        for name in await storage.list(folder):
            path = folder + name
            if path == own_prefix:
                continue
            if name.endswith("/"):
                folders.append(path)
            else:
                keys.append(path)
    return sorted(keys)


async def _marker(store: KvStore) -> dict[str, Any] | None:
    raw = await store.storage.get(store.upgrade_key)
    return None if raw is None else dict(json.loads(raw))


async def migrate(store: KvStore, clock: Clock) -> int:
    """Migrate whatever v1 entries remain; returns how many moved. Idempotent."""
    marker = await _marker(store)
    if marker is not None and marker.get("done"):
        return 0
    if marker is None:
        marker = {"started_time": clock().isoformat(), "done": False}
        await store.storage.put(store.upgrade_key, json.dumps(marker).encode())
    moved = 0
    for key in await _v1_keys(store.storage, store.prefix):
        raw = await store.storage.get(key)
        if raw is None:
            continue
        meta = KeyMetadata(key)
        # Vault migrates with a window of one, which leaves oldest_version at 1.
        meta.add_version(clock(), None, 1)
        await store.commit([store.put_version(key, 1, json.loads(raw)), store.put_metadata(meta), Delete(key)])
        moved += 1
    marker["done"] = True
    await store.storage.put(store.upgrade_key, json.dumps(marker).encode())
    return moved


class Upgrade:
    """Runs the migration once per backend instance, before the first request is served."""

    def __init__(self, prefix: str, clock: Clock) -> None:
        self._prefix = prefix
        self._clock = clock
        self._done = False
        self._lock = asyncio.Lock()

    async def ensure(self, storage: Storage) -> None:
        if self._done:
            return
        async with self._lock:
            if not self._done:
                await migrate(KvStore(storage, self._prefix), self._clock)
                self._done = True
