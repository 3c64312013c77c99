"""Run the daemon as a real process for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STARTUP_TIMEOUT = 30.0

# Every daemon's log started in this test session, for the end-of-session check that no log holds a
# secret in clear (tests/e2e/conftest.py).
DAEMON_LOGS: list[Path] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(method: str, url: str, body: Any = None, token: str | None = None,
            raw: bytes | None = None, headers: dict[str, str] | None = None,
            ca_file: str | None = None) -> tuple[int, Any]:
    """One HTTP call; returns (status, parsed JSON body or None)."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            payload = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        status = exc.code
    return status, (json.loads(payload) if payload else None)


@dataclass
class Daemon:
    """A `sealer server` process with its own config file and log."""

    workdir: Path
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] | None = None
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    scheme: str = "http"
    ca_file: str | None = None

    @property
    def address(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "daemon.log"

    def __post_init__(self) -> None:
        DAEMON_LOGS.append(self.log_path)

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "daemon.out"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def start(self, wait_for: str = "listening") -> Daemon:
        if not self.port:
            self.port = free_port()
        config_path = self.workdir / "sealer.yaml"
        if self.args is None:
            self.config.setdefault("listener", {})["address"] = f"127.0.0.1:{self.port}"
            config_path.write_text(yaml.safe_dump(self.config))
            args = ["server", "--config", str(config_path)]
        else:
            args = self.args
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        with self.stdout_path.open("ab") as out, self.log_path.open("ab") as err:
            # The child keeps its own copies of the descriptors; ours can close at once.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sealer", *args], cwd=self.workdir, env=env, stdout=out, stderr=err
            )
        self.wait_until(lambda: self.health_status() is not None, "the listener to accept connections")
        if wait_for == "unsealed":
            self.wait_until(lambda: self.health_status() == 200, "the daemon to unseal itself")
        return self

    def health_status(self) -> int | None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"daemon exited with {self.process.returncode}:\n{self.log()}")
        try:
            status, _ = request("GET", f"{self.address}/v1/sys/health", ca_file=self.ca_file)
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            return None
        return status

    def wait_until(self, condition: Any, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)  # poll
        raise AssertionError(f"timed out waiting for {what}; daemon log:\n{self.log()}")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             **kwargs: Any) -> tuple[int, Any]:
        # urllib sends only ASCII: percent-encode anything else, keep what the caller encoded already.
        quoted = urllib.parse.quote(path, safe="/%?=&:+")
        return request(method, f"{self.address}/v1/{quoted}", body, token, ca_file=self.ca_file, **kwargs)
