"""The file device: appends lines to a file (or writes them to stdout).

A file is also the device's own record of where its chain stands: `tail` reads back its last complete
line, so a restart continues the chain from what is really in the file. A crash can cut a write short
(SIGKILL stops a write between pages; a full disk stops it anywhere), leaving bytes with no newline at
the end. Those are no line, and no response was sent on them, so the device cuts them off before its
next line (at start, or after a failed write) when the whole line before them is one of its own
(device.py), and the chain goes on from that line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from typing import IO

from engine.audit.sink import FileTail

log = logging.getLogger("engine.audit")

_TAIL_CHUNK = 64 * 1024


class FileSink:
    """Vault's file audit device. `file_path` is a path or "stdout"; `mode` the octal permissions a
    new file gets ("0600" by default; "0000" leaves them as they are, as in Vault)."""

    def __init__(self, file_path: str, mode: int = 0o600) -> None:
        self.file_path = file_path
        self.mode = mode
        self._file: IO[bytes] | None = None
        # Writes from concurrent requests must not interleave, nor race a reopen.
        self._lock = asyncio.Lock()

    @classmethod
    def from_options(cls, options: dict[str, str]) -> FileSink:
        path = options.get("file_path") or options.get("path") or ""
        if not path:
            raise ValueError("file_path is required")
        raw_mode = options.get("mode", "0600") or "0600"
        try:
            mode = int(raw_mode, 8)
        except ValueError:
            raise ValueError(f"invalid mode {raw_mode!r}") from None
        return cls(path, mode)

    @property
    def reads_back(self) -> bool:
        return self.file_path != "stdout"

    async def tail(self) -> FileTail:
        """What the end of the file holds: its last complete line and any incomplete bytes after it."""
        if not self.reads_back:
            return FileTail(None, 0)
        async with self._lock:
            try:
                with open(self.file_path, "rb") as file:
                    if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                        return FileTail(None, 0)
                    return _tail_of(file)
            except FileNotFoundError:
                return FileTail(None, 0)

    async def cut_incomplete(self, tail: FileTail) -> None:
        """Remove `tail`'s incomplete bytes, if the file still ends as it did when `tail` was read."""
        async with self._lock:
            with open(self.file_path, "r+b") as file:
                size = os.fstat(file.fileno()).st_size
                if size != tail.complete_size + tail.incomplete:
                    return  # written to since: not the tail that was looked at
                file.truncate(tail.complete_size)
        log.warning("audit file %s ended in %d bytes of a line whose write was cut short; removed them",
                    self.file_path, tail.incomplete)

    def _open(self) -> IO[bytes]:
        if self.file_path == "stdout":
            return sys.stdout.buffer
        directory = os.path.dirname(self.file_path)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.file_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode or 0o600)
        # Only a regular file gets the mode: a device node such as /dev/null is shared.
        if self.mode and stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, self.mode)
        return os.fdopen(fd, "ab", buffering=0)

    async def write(self, line: bytes) -> None:
        async with self._lock:
            if self._file is None:
                self._file = self._open()
            try:
                _write_all(self._file, line)
                self._file.flush()
            except BaseException:
                # Reopened for the next line (and the device looks at the file's end again).
                self._close()
                raise

    async def reopen(self) -> None:
        async with self._lock:
            self._close()
            self._file = self._open()

    async def close(self) -> None:
        async with self._lock:
            self._close()

    def _close(self) -> None:
        if self._file is not None and self._file is not sys.stdout.buffer:
            self._file.close()
        self._file = None


def _write_all(file: IO[bytes], line: bytes) -> None:
    written = file.write(line)
    while written is not None and written < len(line):  # cut short (a full disk, a signal): send the rest
        line = line[written:]
        written = file.write(line)
    if written is None:  # only a non-blocking file says so; ours never is
        raise BlockingIOError("the audit file would block")


def _tail_of(file: IO[bytes]) -> FileTail:
    end = file.seek(0, os.SEEK_END)
    complete = _newline_before(file, end)  # just past the last newline: where the last whole line ends
    if complete == 0:
        return FileTail(None, 0, end)
    line_start = _newline_before(file, complete - 1)
    file.seek(line_start)
    return FileTail(file.read(complete - line_start), complete, end - complete)


def _newline_before(file: IO[bytes], position: int) -> int:
    """The offset just past the last newline before `position` (0 when there is none), read backwards
    a chunk at a time: the file may be large, a line rarely is."""
    while position > 0:
        start = max(0, position - _TAIL_CHUNK)
        file.seek(start)
        found = file.read(position - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0
