"""The file device: appends lines to a file (or writes them to stdout)."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from typing import IO


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
            self._file.write(line)
            self._file.flush()

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
