"""A read cache for token entries: every request looks its token up, and without it each lookup is a
storage read plus a barrier decryption.

It sits in front of the token store's storage and remembers values under one prefix (the entries),
most recently used first, up to a bound. Correctness rests on one rule: every write of those keys goes
through this same object (the token store writes only through it), and a write drops the key before it
starts and again once it is done, while a read only keeps what it read if no write of the cache's keys
happened meanwhile. So a revoked, renewed or used-up token is seen as such by the very next request.
It holds plaintext entries only while unsealed: the token store, and it with it, goes at seal.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from engine.storage.base import BatchOp, Storage

DEFAULT_CAPACITY = 20_000


class EntryCache:
    """A Storage wrapping `storage`; values of keys under `prefix` are cached."""

    def __init__(self, storage: Storage, prefix: str, capacity: int = DEFAULT_CAPACITY) -> None:
        self._storage = storage
        self._prefix = prefix
        self._capacity = capacity
        self._values: OrderedDict[str, bytes] = OrderedDict()
        # Bumped around every write of a cached key: a read that saw it change keeps nothing.
        self._writes = 0

    def __len__(self) -> int:
        return len(self._values)

    async def get(self, key: str) -> bytes | None:
        if not key.startswith(self._prefix):
            return await self._storage.get(key)
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
            return value
        writes_before = self._writes
        value = await self._storage.get(key)
        if value is not None and self._writes == writes_before:
            self._values[key] = value
            if len(self._values) > self._capacity:
                self._values.popitem(last=False)
        return value

    async def list(self, prefix: str) -> list[str]:
        return await self._storage.list(prefix)

    async def put(self, key: str, value: bytes) -> None:
        self._forget([key])
        try:
            await self._storage.put(key, value)
        finally:
            self._forget([key])

    async def delete(self, key: str) -> None:
        self._forget([key])
        try:
            await self._storage.delete(key)
        finally:
            self._forget([key])

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        keys = [op.key for op in ops]
        self._forget(keys)
        try:
            await self._storage.batch(ops)
        finally:
            self._forget(keys)

    def _forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            if key.startswith(self._prefix):
                self._writes += 1
                self._values.pop(key, None)
