"""The device sink protocol: where a formatted audit line ends up."""

from __future__ import annotations

from typing import Protocol


class AuditSink(Protocol):
    async def write(self, line: bytes) -> None:
        """Write one complete JSON line ending in b"\\n"; raise on failure, never swallow."""
        ...

    async def reopen(self) -> None:
        """SIGHUP: reopen files / reconnect."""
        ...

    async def close(self) -> None: ...
