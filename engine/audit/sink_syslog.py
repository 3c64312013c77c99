"""The syslog device: each line as one message to the local syslog daemon, as Vault's syslog device
(facility AUTH and tag "vault" by default, severity INFO)."""

from __future__ import annotations

import asyncio
import os
import socket
import time

FACILITIES = {
    "KERN": 0, "USER": 1, "MAIL": 2, "DAEMON": 3, "AUTH": 4, "SYSLOG": 5, "LPR": 6, "NEWS": 7,
    "UUCP": 8, "CRON": 9, "AUTHPRIV": 10, "FTP": 11,
    **{f"LOCAL{n}": 16 + n for n in range(8)},
}
SEVERITY_INFO = 6
WRITE_TIMEOUT = 2.0  # a syslogd that stays too busy to take a line fails the write
DEFAULT_SOCKETS = ("/dev/log", "/var/run/syslog", "/var/run/log")


class SyslogSink:
    """Writes to a unix datagram socket in the local syslog format Go's log/syslog uses
    ("<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG"). `address` (a Sealer addition) names the socket; by default the
    first of /dev/log, /var/run/syslog, /var/run/log that exists."""

    def __init__(self, facility: str = "AUTH", tag: str = "vault", address: str = "") -> None:
        code = FACILITIES.get(facility.upper())
        if code is None:
            raise ValueError(f"invalid facility {facility!r}")
        self.priority = code * 8 + SEVERITY_INFO
        self.tag = tag
        self.address = address
        self._sock: socket.socket | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_options(cls, options: dict[str, str]) -> SyslogSink:
        return cls(options.get("facility") or "AUTH", options.get("tag") or "vault", options.get("address", ""))

    def format(self, line: bytes) -> bytes:
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime())
        header = f"<{self.priority}>{stamp} {self.tag}[{os.getpid()}]: ".encode()
        return header + line

    async def write(self, line: bytes) -> None:
        async with self._lock:
            message = self.format(line)
            try:
                await self._send(message)
            except OSError:
                # syslogd restarted: its socket is a new one. Retry once on a fresh connection.
                self._close()
                await self._send(message)

    async def _send(self, message: bytes) -> None:
        # The receiver's queue is short (net.unix.max_dgram_qlen): wait for room rather than drop.
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(self._socket(), message), WRITE_TIMEOUT)

    async def reopen(self) -> None:
        async with self._lock:
            self._close()

    async def close(self) -> None:
        async with self._lock:
            self._close()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.connect(self._target())
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def _target(self) -> str:
        if self.address:
            return self.address
        for path in DEFAULT_SOCKETS:
            if os.path.exists(path):
                return path
        raise FileNotFoundError("no local syslog socket (/dev/log, /var/run/syslog, /var/run/log)")

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
