"""What every part of a KV v2 mount shares: where its records live, its clock and its key locks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from engine.backends.kv_v2.metadata_memo import MetadataMemo
from engine.backends.kv_v2.store import KvStore
from engine.storage.base import Storage
from engine.tokens.entry import Clock

_STRIPES = 256


class KeyLocks:
    """Serialise read-modify-write cycles on one key (Vault's 256 striped locks)."""

    def __init__(self) -> None:
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    def __call__(self, key: str) -> asyncio.Lock:
        return self._locks[hash(key) % _STRIPES]


@dataclass
class KvContext:
    prefix: str
    clock: Clock
    locks: KeyLocks = field(default_factory=KeyLocks)
    metadata_memo: MetadataMemo = field(default_factory=MetadataMemo, repr=False)

    def store(self, storage: Storage) -> KvStore:
        return KvStore(storage, self.prefix, self.metadata_memo)

    def now(self) -> datetime:
        return self.clock()
