"""The processes under load: the ceiling app and the daemon, each a real process on a loopback port."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
MAKE_TOKEN = REPO / "ci" / "softhsm" / "make-token.sh"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(base_url: str, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    """One JSON call to /v1/<path>; returns (status, parsed body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base_url}/v1/{path}", data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    return status, (json.loads(payload) if payload else None)


def must(base_url: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    status, answer = call(base_url, method, path, body, token)
    if status >= 400:
        raise RuntimeError(f"{method} {path}: {status} {answer}")
    return answer


def wait_until(condition: Callable[[], bool], what: str, timeout: float = _READY_TIMEOUT_S) -> float:
    """Poll `condition` until true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)  # poll
    raise TimeoutError(f"timed out waiting for {what}")


def _health(base_url: str) -> int | None:
    try:
        return call(base_url, "GET", "sys/health")[0]
    except (ConnectionError, urllib.error.URLError, TimeoutError):
        return None


@dataclass
class Process:
    """A child process; stopped with SIGTERM (then killed) by stop()."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            # The log is named, not shown: a daemon's first start prints its root token there.
            raise RuntimeError(f"process {self.popen.args} exited with {self.popen.returncode} (see {self.log})")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def rss_mb(self) -> float:
        """Resident memory of the process and its children (the daemon's SQLite writer is one)."""
        return sum(_rss_kb(pid) for pid in _tree(self.pid)) / 1024


def _tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(member for child in children for member in _tree(int(child)))]


def _rss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


@dataclass
class Ceiling:
    port: int
    process: Process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workdir: Path, parser: str = "c") -> Ceiling:
        port = free_port()
        log = (workdir / f"ceiling-{parser}.log").open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.ceiling", "--port", str(port), "--parser", parser],
            cwd=REPO, stdout=log, stderr=log,
        )
        ceiling = cls(port, Process(popen, workdir / f"ceiling-{parser}.log"))
        wait_until(lambda: ceiling._answers(), "the ceiling app to listen")
        return ceiling

    def _answers(self) -> bool:
        self.process.check_alive()
        try:
            return call(self.url, "GET", "ping")[0] == 200
        except (ConnectionError, urllib.error.URLError):
            return False


@dataclass(frozen=True)
class SoftHsm:
    """A private SoftHSM store with one token, made by the same script `make run` uses."""

    conf: Path
    label: str
    pin: str = field(repr=False)

    @classmethod
    def make(cls, directory: Path, label: str = "bench") -> SoftHsm:
        pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
        result = subprocess.run(
            ["sh", str(MAKE_TOKEN), str(directory), label, pin, so_pin], capture_output=True, text=True, check=True
        )
        return cls(conf=Path(result.stdout.strip()), label=label, pin=pin)


@dataclass
class Daemon:
    """`sealer server` with SQLite storage and a seal (pkcs11 on a SoftHSM token, or shamir)."""

    workdir: Path
    hsm: SoftHsm | None
    port: int = 0
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "data" / "sealer.db"

    @property
    def init_path(self) -> Path:
        return self.workdir / "init.json"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "listener": {"address": f"127.0.0.1:{self.port}"},
            "storage": {"sqlite": {"path": str(self.db_path)}},
            "log_level": "warn",
        }
        if self.hsm is not None:
            config["seal"] = {"pkcs11": {
                "lib": SOFTHSM_MODULE, "token_label": self.hsm.label, "pin": self.hsm.pin,
                "key_label": "bench-wrap", "hmac_key_label": "bench-hmac", "generate_key": True,
            }}
            config["auto_init"] = {"secret_shares": 1, "secret_threshold": 1, "output_file": str(self.init_path)}
        else:
            config["seal"] = {"shamir": {}}
        return config

    def start(self) -> float:
        """Start the process; returns the seconds until it listens."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        config_path = self.workdir / "sealer.yaml"
        config_path.write_text(yaml.safe_dump(self.config()))
        env = {**os.environ}
        if self.hsm is not None:
            env["SOFTHSM2_CONF"] = str(self.hsm.conf)
        log = (self.workdir / "daemon.log").open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "sealer", "server", "--config", str(config_path)],
            cwd=self.workdir, env=env, stdout=log, stderr=log,
        )
        self.process = Process(popen, self.workdir / "daemon.log")
        return wait_until(lambda: self._health() is not None, "the daemon to listen")

    def wait_unsealed(self) -> float:
        return wait_until(lambda: self._health() == 200, "the daemon to unseal")

    def _health(self) -> int | None:
        assert self.process is not None
        self.process.check_alive()
        return _health(self.url)

    def root_token(self) -> str:
        return str(json.loads(self.init_path.read_text())["root_token"])

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
