"""Helpers for the audit end-to-end tests: local servers that collect what socket and syslog devices send,
and the leak check over every file a test produced."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path
from typing import Any

from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon
from tests.e2e.lifecycle_helpers import init_output, sealer


class StreamCollector:
    """A TCP (or unix-stream) listener that keeps every byte sent to it; `close` hangs up on everyone."""

    def __init__(self, unix_path: str | None = None, port: int = 0) -> None:
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.address = unix_path
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port))
            self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.listen()
        self._data = bytearray()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def data(self) -> bytes:
        with self._lock:
            return bytes(self._data)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            while chunk := conn.recv(65536):
                with self._lock:
                    self._data += chunk
        except OSError:
            return

    def close(self) -> None:
        for sock in (self.sock, *self._conns):
            with contextlib.suppress(OSError):  # not connected any more
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class DatagramCollector:
    """A UDP or unix-datagram socket, read all the time (a unix datagram queue holds only a few)."""

    def __init__(self, unix_path: str | None = None) -> None:
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(unix_path)
            self.address = unix_path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.settimeout(0.2)  # how often the reader checks whether it should stop
        self.messages: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(message)

    def drain(self) -> list[bytes]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._stop.set()
        self._reader.join(timeout=5)
        self.sock.close()


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def start(daemons: Any, token: Any, workdir: Path) -> tuple[Daemon, str]:
    daemon = daemons(workdir, pkcs11_config(token, workdir)).start(wait_for="unsealed")
    return daemon, init_output(workdir)["root_token"]


def enable(daemon: Daemon, root: str, *args: str) -> None:
    result = sealer(daemon, "audit", "enable", *args, token=root)
    assert result.returncode == 0, result.stderr
    assert "Success! Enabled the" in result.stdout


def assert_no_clear_values(workdir: Path, values: list[str]) -> None:
    """No clear value in any daemon log or audit output under `workdir`. Aside: the store (sealed),
    init.json, and the auto-init's one-time "Root Token:" line on the daemon's stdout, which are where
    the root token is meant to go."""
    skipped = {"sealer.db", "sealer.db-wal", "sealer.db-shm", "init.json", "sealer.yaml"}
    files = [p for p in workdir.rglob("*") if p.is_file() and p.name not in skipped and not p.is_socket()]
    assert any(p.name == "daemon.log" for p in files)
    for path in files:
        content = path.read_bytes()
        if path.name == "daemon.out":
            content = b"\n".join(line for line in content.splitlines() if not line.startswith(b"Root Token: "))
        for value in values:
            assert value.encode() not in content, f"a clear value is in {path.name}"
