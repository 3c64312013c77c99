"""The physical storage contract: an untrusted byte key-value store.

Keys are '/'-separated paths. `list(prefix)` is one level deep: it returns the names directly below
`prefix`, with sub-folders ending in '/', sorted, deduplicated. `delete` of a missing key is not an error.
`batch` applies every operation or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NewType, Protocol, runtime_checkable

StorageKey = NewType("StorageKey", str)


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes = field(repr=False)


@dataclass(frozen=True)
class Delete:
    key: str


BatchOp = Put | Delete


@runtime_checkable
class Storage(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str) -> list[str]: ...

    async def batch(self, ops: Sequence[BatchOp]) -> None: ...


def as_value(value: object) -> bytes:
    """The bytes a backend stores for `value`. A str or int is a caller bug, not data: refuse it
    (bytes(5) would silently store five zero bytes)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"storage values must be bytes, not {type(value).__name__}")


def children(keys: Iterable[str], prefix: str) -> list[str]:
    """The one-level listing of `keys` below `prefix`, as every backend must return it."""
    names: set[str] = set()
    for key in keys:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if not rest:
            continue
        head, slash, _ = rest.partition("/")
        names.add(head + slash)
    return sorted(names)
