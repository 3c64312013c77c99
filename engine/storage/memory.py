"""In-memory storage: for tests and `sealer server --dev`."""

from __future__ import annotations

from collections.abc import Sequence

from engine.storage.base import BatchOp, Put, as_value, children


class MemoryStorage:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self._data.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self._data[key] = as_value(value)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def list(self, prefix: str) -> list[str]:
        return children(self._data, prefix)

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        # Check every op before touching the data, so a bad op leaves nothing applied.
        staged = [(op.key, as_value(op.value) if isinstance(op, Put) else None) for op in ops]
        for key, value in staged:
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value

    async def close(self) -> None:
        return None
