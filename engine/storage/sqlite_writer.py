"""The SQLite writer process, seen from the event loop: start it, hand it writes, hear their outcomes.

Writes go out on a socket (no thread hop; sqlite_writer_main.py says why a process), one message at a
time: while the process commits one, the writes that come meanwhile wait here and go out together as
the next, once the answer is in. So a busy daemon pays one send, one wake-up of the process and one
answer per group, not per write. Outcomes come back in the order the writes were sent, so the oldest
writes waiting are the ones each answer settles.

If the process stops unexpectedly (killed, crashed), every write still waiting fails with a clear
error: its commit may or may not have happened, which only a read can tell. The storage starts
another process for the next write.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import StorageError
from engine.storage.sqlite_group import Row
from engine.storage.sqlite_messages import DONE, FAILED, READY, WRITE, encode, take_complete

# The child imports the writer from the same tree as this daemon, isolated from the environment
# (-I) and without site-packages (-S: it needs none, and starts faster).
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from engine.storage.sqlite_writer_main import main; sys.exit(main(sys.argv[1:]))"
)


class PendingWrite:
    """One caller's rows and the future its caller waits on."""

    __slots__ = ("done", "rows")

    def __init__(self, rows: list[Row], done: asyncio.Future[None]) -> None:
        self.rows = rows
        self.done = done


# Called on the event loop with each write of a group and its failure (None: committed), in order.
Settle = Callable[[list[tuple[PendingWrite, StorageError | None]]], None]


class WriterProcess(asyncio.Protocol):
    def __init__(self, path: Path, process: asyncio.subprocess.Process, settle: Settle) -> None:
        self._path = path
        self._process = process
        self._settle = settle
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        # Sent or not, every write not settled yet, oldest first.
        self._waiting: deque[PendingWrite] = deque()
        # The rows of the writes not sent yet: they go out when the message in flight is answered.
        self._unsent: list[list[Row]] = []
        # How many writes the message in flight holds (0: none in flight).
        self._in_flight = 0
        self._ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._stopped: str | None = None
        # The writer connection's settings as it reported them (journal_mode, synchronous).
        self.settings: dict[str, Any] = {}
        # Transactions committed by this process (each one fsync).
        self.commits = 0

    @classmethod
    async def start(cls, path: Path, pragmas: Sequence[str], settle: Settle) -> WriterProcess:
        """Start the process and wait until it has the file open (StorageError if it cannot)."""
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-S", "-c", _BOOT, _PACKAGE_ROOT,
                    str(theirs.fileno()), str(path), *pragmas,
                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        writer = cls(path, process, settle)
        try:
            await asyncio.get_running_loop().create_unix_connection(lambda: writer, sock=ours)
            writer.settings = await writer._ready
        except BaseException:
            await writer.close()
            raise
        return writer

    @property
    def stopped(self) -> bool:
        return self._stopped is not None

    def write(self, write: PendingWrite) -> None:
        if self._stopped is not None or self._transport is None:
            raise self._error(self._stopped or "the writer process is not running")
        self._waiting.append(write)
        self._unsent.append(write.rows)
        if not self._in_flight:
            self._send()

    @property
    def pid(self) -> int:
        return self._process.pid

    async def close(self) -> int:
        """End its input and wait for it to commit what it has and exit; its exit code."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write_eof()
        exit_code = await self._process.wait()
        if self._transport is not None:
            self._transport.close()
        return exit_code

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for message in take_complete(self._buffer):
            kind = message[0]
            if kind == DONE:
                self._done(message[1], message[2])
            elif kind == READY:
                self._ready.set_result(message[1])
            elif kind == FAILED:
                self._ready.set_exception(self._error(message[1]))

    def eof_received(self) -> bool:
        return False  # close our end too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stopped = "the writer process stopped" + (f" ({exc})" if exc else "")
        if not self._ready.done():
            self._ready.set_exception(self._error(self._stopped))
        if not self._waiting:
            return
        committing = self._error(f"{self._stopped} while committing this write: it may or may not be on disk")
        unsent = self._error(f"{self._stopped} before this write reached it: nothing of it was written")
        settled = [(write, committing if i < self._in_flight else unsent) for i, write in enumerate(self._waiting)]
        self._waiting.clear()
        self._unsent = []
        self._in_flight = 0
        self._settle(settled)

    def _send(self) -> None:
        assert self._transport is not None
        self._transport.write(encode((WRITE, self._unsent)))
        self._in_flight = len(self._unsent)
        self._unsent = []

    def _done(self, outcomes: list[str | None], commits: int) -> None:
        self.commits = commits
        waiting = self._waiting
        settled = [(waiting.popleft(), None if cause is None else self._error(cause)) for cause in outcomes]
        self._in_flight = 0
        if self._unsent:
            self._send()  # before settling: the process commits the next group while callers resume
        self._settle(settled)

    def _error(self, cause: str) -> StorageError:
        return StorageError(f"sqlite storage at {self._path}: {cause}")
