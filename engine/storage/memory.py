"""In-memory storage: for tests and `sealer server --dev`."""

from __future__ import annotations

from collections.abc import Sequence

from engine.storage.base import BatchOp, Put, children


class MemoryStorage:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self._data.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self._data[key] = bytes(value)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def list(self, prefix: str) -> list[str]:
        return children(self._data, prefix)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        for op in ops:
            if isinstance(op, Put):
                self._data[op.key] = bytes(op.value)
            else:
                self._data.pop(op.key, None)

    async def close(self) -> None:
        return None
