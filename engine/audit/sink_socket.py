"""The socket device: each line sent to a TCP, UDP or unix-stream endpoint, as Vault's socket device."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket

DEFAULT_WRITE_TIMEOUT = 2.0  # Vault's default "2s"
SOCKET_TYPES = ("tcp", "udp", "unix")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_timeout(text: str) -> float:
    """Seconds from "2s", "500ms", "1m" or a bare number of seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid write_timeout {text!r}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid write_timeout {text!r}: must be positive")
    return seconds


def split_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"invalid address {address!r}: expected host:port")
    return host.strip("[]"), int(port)


class SocketSink:
    """A connection opened lazily and kept; a write that fails is retried once on a fresh connection
    (as Vault does), and a second failure is raised so the broker fails the request closed."""

    def __init__(self, address: str, socket_type: str = "tcp",
                 write_timeout: float = DEFAULT_WRITE_TIMEOUT) -> None:
        if socket_type not in SOCKET_TYPES:
            raise ValueError(f"invalid socket_type {socket_type!r}: expected one of {', '.join(SOCKET_TYPES)}")
        if socket_type != "unix":
            split_host_port(address)
        elif not address:
            raise ValueError("address is required")
        self.address = address
        self.socket_type = socket_type
        self.write_timeout = write_timeout
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._datagram: socket.socket | None = None
        # Lines from concurrent requests must not interleave on one stream.
        self._lock = asyncio.Lock()

    @classmethod
    def from_options(cls, options: dict[str, str]) -> SocketSink:
        address = options.get("address", "")
        if not address:
            raise ValueError("address is required")
        timeout = options.get("write_timeout")
        return cls(address, options.get("socket_type") or "tcp",
                   parse_timeout(timeout) if timeout else DEFAULT_WRITE_TIMEOUT)

    async def write(self, line: bytes) -> None:
        async with self._lock:
            try:
                await self._send(line)
            except (OSError, TimeoutError):
                await self._disconnect()
                await self._send(line)

    async def reopen(self) -> None:
        async with self._lock:
            await self._disconnect()

    async def close(self) -> None:
        async with self._lock:
            await self._disconnect()

    async def _send(self, line: bytes) -> None:
        if self.socket_type == "udp":
            sock = self._datagram or self._connect_datagram()
            # A connected UDP socket reports a refused port (ICMP) on a later send: that raises here.
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.sock_sendall(sock, line), self.write_timeout)
            return
        if self._writer is not None and self._peer_gone():
            await self._disconnect()
        if self._writer is None:
            await asyncio.wait_for(self._connect_stream(), self.write_timeout)
        assert self._writer is not None
        self._writer.write(line)
        await asyncio.wait_for(self._writer.drain(), self.write_timeout)

    def _peer_gone(self) -> bool:
        # The listener closed its end since the last line: sending now would vanish into a dead socket.
        assert self._writer is not None and self._reader is not None
        return self._writer.is_closing() or self._reader.at_eof()

    async def _connect_stream(self) -> None:
        if self.socket_type == "unix":
            self._reader, self._writer = await asyncio.open_unix_connection(self.address)
        else:
            host, port = split_host_port(self.address)
            self._reader, self._writer = await asyncio.open_connection(host, port)

    def _connect_datagram(self) -> socket.socket:
        host, port = split_host_port(self.address)
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(info[0], socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(info[4])
        except OSError:
            sock.close()
            raise
        self._datagram = sock
        return sock

    async def _disconnect(self) -> None:
        if self._datagram is not None:
            self._datagram.close()
            self._datagram = None
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            # The peer may be gone already; there is nothing left to flush.
            with contextlib.suppress(OSError):
                await writer.wait_closed()
