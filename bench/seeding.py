"""Seeding large stores fast, in-process: the daemon's own engine (seal, barrier, core) over its SQLite
file, with writes gathered into large transactions instead of one fsync'd commit per entry.

Only a harness for `make bench`: it opens the database while no daemon runs, and its buffering gives up
per-write durability on purpose (a crash mid-seed just means seeding again).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.backends.kv import encode_secret
from engine.core import Core
from engine.expiration.entry import SECRET, LeaseEntry
from engine.expiration.store import LeaseStore
from engine.request import Op, Request
from engine.storage.base import BatchOp, Delete, Put
from engine.storage.sqlite import SqliteStorage
from sealer.config import load_config
from sealer.seal_manager import SealManager
from sealer.seals.factory import seal_setup

FLUSH_EVERY = 20_000


class BufferedStorage:
    """A Storage that holds writes in memory and commits them `FLUSH_EVERY` at a time. Reads see the
    pending writes; `buffering = False` makes every write go straight (durably) to the inner storage."""

    def __init__(self, inner: SqliteStorage) -> None:
        self._inner = inner
        self._pending: dict[str, BatchOp] = {}
        self.buffering = True

    async def get(self, key: str) -> bytes | None:
        pending = self._pending.get(key)
        if pending is None:
            return await self._inner.get(key)
        return pending.value if isinstance(pending, Put) else None

    async def list(self, prefix: str) -> list[str]:
        """The inner listing with pending writes merged in (a pending delete hides only a leaf: enough
        for seeding, which never empties a folder)."""
        names = set(await self._inner.list(prefix))
        for key, op in self._pending.items():
            if not key.startswith(prefix) or key == prefix:
                continue
            head, slash, _ = key[len(prefix):].partition("/")
            name = head + slash
            if isinstance(op, Put):
                names.add(name)
            elif not slash:
                names.discard(name)
        return sorted(names)

    async def put(self, key: str, value: bytes) -> None:
        await self.batch([Put(key, value)])

    async def delete(self, key: str) -> None:
        await self.batch([Delete(key)])

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        if not self.buffering:
            await self._inner.batch(ops)
            return
        for op in ops:
            self._pending[op.key] = op
        if len(self._pending) >= FLUSH_EVERY:
            await self.flush()

    async def flush(self) -> None:
        ops, self._pending = list(self._pending.values()), {}
        if ops:
            await self._inner.batch(ops)


@dataclass
class Engine:
    """The daemon's engine, unsealed in this process."""

    manager: SealManager
    storage: BufferedStorage
    unseal_seconds: float

    @property
    def core(self) -> Core:
        return self.manager.core


@asynccontextmanager
async def engine(config_path: Path, softhsm_conf: Path | None) -> AsyncIterator[Engine]:
    """Unseal the daemon's store (its config, its token) here; everything pending is committed at exit."""
    if softhsm_conf is not None:
        os.environ["SOFTHSM2_CONF"] = str(softhsm_conf)  # read by the PKCS#11 module when it loads
    config = load_config(config_path)
    assert config.storage is not None
    inner = await SqliteStorage.open(config.storage.path)  # type: ignore[union-attr]
    seals = seal_setup(config)
    try:
        storage = BufferedStorage(inner)
        manager = SealManager(storage, seals.active, options=seals.options)  # type: ignore[arg-type]
        start = time.perf_counter()
        await manager.auto_unseal()
        unseal_seconds = time.perf_counter() - start
        try:
            yield Engine(manager, storage, unseal_seconds)
        finally:
            await storage.flush()
            await manager.core.teardown()
    finally:
        await seals.close()
        await inner.close()


async def create_tokens(core: Core, root: str, count: int, ttl: str) -> None:
    """`count` service tokens (each with its lease), made through the request pipeline as the API would."""
    for _ in range(count):
        await core.handle(Request(op=Op.UPDATE, path="auth/token/create", data={"ttl": ttl}, client_token=root))


async def write_kv_v1(core: Core, mount: str, start: int, stop: int, batch: int = 10_000) -> None:
    """KV v1 entries `k-<n>` for n in [start, stop), straight into the mount's barrier view (encrypted
    like any other write), `batch` per transaction: the cheapest way to a store of a million keys."""
    found = core._loaded().mounts.router.match(mount)
    assert found is not None, f"no mount at {mount}"
    view = found[0].storage
    for low in range(start, stop, batch):
        ops: list[BatchOp] = [
            Put(f"k-{n}", encode_secret({"value": f"bench-{n}"})) for n in range(low, min(stop, low + batch))
        ]
        await view.batch(ops)


async def write_leases(engine: Engine, root: str, count: int, holders: int = 100, batch: int = 10_000) -> None:
    """`count` live secret leases held by `holders` real tokens, written through the expiration manager's
    own store (entry, token index and due index per lease, as a lease issued over the API), `batch` per
    transaction. They are due in 32 days: live for the whole run."""
    core = engine.core
    tokens = []
    for _ in range(holders):
        response = await core.handle(
            Request(op=Op.UPDATE, path="auth/token/create", data={"ttl": "768h"}, client_token=root)
        )
        assert response.auth is not None
        tokens.append(core._loaded().tokens.hash_token(response.auth["client_token"]))
    store = LeaseStore(engine.manager.barrier)
    now = time.time()
    for low in range(0, count, batch):
        await store.save_many(
            LeaseEntry(
                lease_id=f"secret/bench-lease/{n}", kind=SECRET, path=f"secret/bench-lease/{n}", issue_time=now,
                expire_time=now + 768 * 3600, ttl=768 * 3600, renewable=True, token_hash=tokens[n % holders],
            )
            for n in range(low, min(count, low + batch))
        )
