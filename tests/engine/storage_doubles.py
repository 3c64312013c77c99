"""A base for the storage test doubles: the real Storage interface, every call handed to the real storage
underneath; a double overrides only the calls it holds up, counts or fails."""

from __future__ import annotations

from collections.abc import Sequence

from engine.storage.base import BatchOp, Storage


class PassThrough:
    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    async def get(self, key: str) -> bytes | None:
        return await self.inner.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await self.inner.put(key, value)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        await self.inner.batch(ops)
