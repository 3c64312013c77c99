"""The device sink protocol: where a formatted audit line ends up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class FileTail:
    """The end of a file: its last complete line and how many bytes follow it with no newline."""

    last_line: bytes | None = field(repr=False)  # with its newline (in clear with log_raw: never shown)
    complete_size: int  # bytes up to and including that newline
    incomplete: int = 0


class AuditSink(Protocol):
    async def write(self, line: bytes) -> None:
        """Write one complete JSON line ending in b"\\n"; raise on failure, never swallow."""
        ...

    async def reopen(self) -> None:
        """SIGHUP: reopen files / reconnect."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ReadBackSink(AuditSink, Protocol):
    """A sink that can read back what it wrote (a file): its end is the record of where the chain stands."""

    @property
    def reads_back(self) -> bool:
        """False when this one cannot after all (a file device writing to stdout)."""
        ...

    async def tail(self) -> FileTail: ...

    async def cut_incomplete(self, tail: FileTail) -> None: ...
