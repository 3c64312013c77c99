"""A prefixed window onto a Storage (Vault's BarrierView): each mount sees only its own keys, as if
they were the whole store."""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import BadRequest
from engine.storage.base import BatchOp, Delete, Put, Storage


class View:
    def __init__(self, storage: Storage, prefix: str) -> None:
        if prefix and not prefix.endswith("/"):
            raise ValueError(f"a view prefix must end with '/': {prefix!r}")
        self._storage = storage
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"View({self.prefix!r})"

    def _key(self, key: str) -> str:
        # As Vault's BarrierView: a relative segment could reach outside the view on a storage that
        # maps keys to files, so any ".." is refused outright.
        if ".." in key:
            raise BadRequest("relative paths not supported")
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:
        return await self._storage.get(self._key(key))

    async def put(self, key: str, value: bytes) -> None:
        await self._storage.put(self._key(key), value)

    async def delete(self, key: str) -> None:
        await self._storage.delete(self._key(key))

    async def list(self, prefix: str) -> list[str]:
        # The underlying listing is relative to the prefix it was given, so names need no stripping.
        return await self._storage.list(self._key(prefix))

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        await self._storage.batch(self.outer(ops))

    def outer(self, ops: Sequence[BatchOp]) -> list[BatchOp]:
        """`ops` with the keys the underlying storage sees: for a caller adding them to a batch of its own."""
        return [self._op(op) for op in ops]

    def _op(self, op: BatchOp) -> BatchOp:
        return Put(self._key(op.key), op.value) if isinstance(op, Put) else Delete(self._key(op.key))

    def sub_view(self, prefix: str) -> View:
        return View(self._storage, self._key(prefix))


async def all_keys(storage: Storage, prefix: str = "") -> list[str]:
    """Every key below `prefix`, recursively (one `list` per folder), relative to `prefix`."""
    keys: list[str] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        for name in await storage.list(prefix + folder):
            if name.endswith("/"):
                folders.append(folder + name)
            else:
                keys.append(folder + name)
    return sorted(keys)


async def clear(storage: Storage, prefix: str = "") -> None:
    """Delete every key below `prefix` in one batch."""
    keys = await all_keys(storage, prefix)
    if keys:
        await storage.batch([Delete(prefix + key) for key in keys])
