"""The socket and syslog audit sinks against real local servers: what arrives, and failures raised."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.audit.sink_socket import SocketSink, parse_timeout
from engine.audit.sink_syslog import SyslogSink
from engine.audit.sinks import SINK_TYPES

LINE_A = b'{"type":"request","n":1}\n'
LINE_B = b'{"type":"response","n":2}\n'


class StreamServer:
    """Collects every byte sent to it; can be stopped and started again on the same address."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        while chunk := await reader.read(65536):
            self.received += chunk
        writer.close()

    async def wait_for(self, size: int) -> bytes:
        async with asyncio.timeout(5):
            while len(self.received) < size:
                await asyncio.sleep(0.01)  # poll
        return bytes(self.received)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()
        self.writers.clear()


@pytest.fixture
async def tcp_server() -> AsyncIterator[tuple[StreamServer, int]]:
    srv = StreamServer()
    srv.server = await asyncio.start_server(srv._handle, "127.0.0.1", 0)
    port = srv.server.sockets[0].getsockname()[1]
    yield srv, port
    srv.server.close()


async def test_tcp_sink_delivers_lines_in_order(tcp_server) -> None:
    srv, port = tcp_server
    sink = SINK_TYPES["socket"]({"address": f"127.0.0.1:{port}", "socket_type": "tcp"})
    await sink.write(LINE_A)
    await sink.write(LINE_B)
    assert await srv.wait_for(len(LINE_A + LINE_B)) == LINE_A + LINE_B
    await sink.close()


async def test_tcp_sink_raises_when_the_listener_is_gone_and_recovers_when_back(tcp_server) -> None:
    srv, port = tcp_server
    sink = SocketSink(f"127.0.0.1:{port}")
    await sink.write(LINE_A)
    await srv.wait_for(len(LINE_A))
    await srv.stop()
    # The peer's close reaches the sink's reader; the next write reconnects, which is refused.
    async with asyncio.timeout(5):
        while True:
            try:
                await sink.write(LINE_B)
            except OSError:
                break
            await asyncio.sleep(0.01)  # poll: until the FIN has arrived
    srv.received.clear()
    srv.server = await asyncio.start_server(srv._handle, "127.0.0.1", port)
    await sink.write(LINE_B)
    assert await srv.wait_for(len(LINE_B)) == LINE_B
    await sink.close()


async def test_tcp_sink_with_no_listener_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SocketSink(f"127.0.0.1:{port}")
    with pytest.raises(OSError):
        await sink.write(LINE_A)


async def test_unix_stream_sink_delivers(tmp_path: Path) -> None:
    srv = StreamServer()
    path = str(tmp_path / "a.sock")
    srv.server = await asyncio.start_unix_server(srv._handle, path)
    sink = SocketSink(path, "unix")
    await sink.write(LINE_A)
    await sink.reopen()
    await sink.write(LINE_B)
    assert await srv.wait_for(len(LINE_A + LINE_B)) == LINE_A + LINE_B
    await sink.close()
    await srv.stop()


async def test_udp_sink_sends_one_datagram_per_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        sink = SocketSink(f"127.0.0.1:{server.getsockname()[1]}", "udp")
        await sink.write(LINE_A)
        await sink.write(LINE_B)
        assert server.recv(65536) == LINE_A
        assert server.recv(65536) == LINE_B
        await sink.close()


def test_socket_options_are_validated() -> None:
    with pytest.raises(ValueError, match="address"):
        SocketSink.from_options({})
    with pytest.raises(ValueError, match="socket_type"):
        SocketSink.from_options({"address": "127.0.0.1:1", "socket_type": "sctp"})
    with pytest.raises(ValueError, match="host:port"):
        SocketSink.from_options({"address": "nowhere"})
    assert parse_timeout("2s") == 2.0
    assert parse_timeout("500ms") == 0.5
    assert SocketSink.from_options({"address": "h:1", "write_timeout": "1m"}).write_timeout == 60.0
    with pytest.raises(ValueError):
        parse_timeout("soon")


async def test_syslog_sink_writes_local_syslog_format(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(5)
        sink = SINK_TYPES["syslog"]({"facility": "local0", "tag": "sealer-test", "address": path})
        await sink.write(LINE_A)
        message = server.recv(65536)
        # LOCAL0 (16) * 8 + INFO (6)
        assert message.startswith(b"<134>")
        header, _, body = message.partition(b": ")
        assert b" sealer-test[" in header
        assert body == LINE_A
        default = SyslogSink(address=path)
        await default.write(LINE_B)
        second = server.recv(65536)
        assert second.startswith(b"<38>")  # AUTH (4) * 8 + INFO, Vault's default
        assert b" vault[" in second and second.endswith(b": " + LINE_B)
        await sink.close()
        await default.close()


async def test_syslog_sink_raises_without_a_listener(tmp_path: Path) -> None:
    sink = SyslogSink(address=str(tmp_path / "absent.sock"))
    with pytest.raises(OSError):
        await sink.write(LINE_A)
    with pytest.raises(ValueError, match="facility"):
        SyslogSink(facility="NOPE")
