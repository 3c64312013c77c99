"""Helpers shared by the seal lifecycle end-to-end tests (migration, multi-token, break-glass, HSM key
rotation): configurations, the CLI as a process, data checks, and killing the daemon at a named step."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any

from tests.e2e.conftest import MODULE
from tests.e2e.daemon import Daemon

CRASH_ENV = "SEALER_TEST_CRASH_AT"


def storage(workdir: Path) -> dict[str, Any]:
    return {"sqlite": {"path": str(workdir / "data" / "sealer.db")}}


def token_block(token: Any, **extra: Any) -> dict[str, Any]:
    return {"lib": MODULE, "token_label": token.label, "pin": token.pin, "key_label": "root-wrap",
            "hmac_key_label": "root-hmac", "generate_key": True, **extra}


def config(workdir: Path, seal: dict[str, Any], *, shares: int = 3, threshold: int = 2) -> dict[str, Any]:
    return {"storage": storage(workdir), "seal": seal,
            "auto_init": {"secret_shares": shares, "secret_threshold": threshold,
                          "output_file": str(workdir / "init.json")}}


def init_output(workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((workdir / "init.json").read_text())
    return result


def sealer(daemon: Daemon, *args: str, token: str | None = None,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VAULT_TOKEN", "SEALER_TOKEN", "VAULT_ADDR")}
    env["SEALER_ADDR"] = daemon.address
    env["HOME"] = str(daemon.workdir)
    if token:
        env["SEALER_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "sealer", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def write_secret(daemon: Daemon, token: str, value: str) -> None:
    status, _ = daemon.call("POST", "secret/app", {"value": value}, token=token)
    assert status == 204


def read_secret(daemon: Daemon, token: str) -> str:
    status, body = daemon.call("GET", "secret/app", token=token)
    assert status == 200, body
    value: str = body["data"]["value"]
    return value


def seal_status(daemon: Daemon) -> dict[str, Any]:
    status, body = daemon.call("GET", "sys/seal-status")
    assert status == 200
    result: dict[str, Any] = body
    return result


def unseal(daemon: Daemon, keys: list[str], *, migrate: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key in keys:
        status, body = daemon.call("PUT", "sys/unseal", {"key": key, "migrate": migrate})
        assert status == 200, body
    return body


def crash_at(daemon: Daemon, step: str, action: Callable[[], object]) -> None:
    """Start the daemon armed to SIGKILL itself at `step`, run `action` (which reaches the step) and check
    that the process really died there."""
    daemon.env[CRASH_ENV] = step
    try:
        daemon.start()
        # The daemon dies under the request: URLError, requests' ConnectionError, a reset connection.
        with contextlib.suppress(OSError, HTTPException):
            action()
        assert daemon.process is not None
        code = daemon.process.wait(timeout=30)
        assert code == -signal.SIGKILL, f"the daemon exited with {code}, not at crash point {step}:\n{daemon.log()}"
        assert f"test crash point '{step}' reached" in daemon.log()
        daemon.process = None
    finally:
        del daemon.env[CRASH_ENV]
