"""The disk fills up under the SQLite storage: a write fails with a clear 500, nothing of it is applied (a KV v2
write is one batch: version data and metadata together or not at all), reads go on, and once space is
freed writes work again without a restart. The disk is a real small tmpfs mounted for the test."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import Daemon
from tests.faults.conftest import FaultDaemons, root_token

DISK_SIZE = "8m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_SIZE; needs root (mount), which the project's test machines have."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        # Lazy: a daemon killed a moment ago may still hold the database open.
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(disk: Path) -> Path:
    """Write zeros to a file on `disk` until the filesystem refuses more."""
    filler = disk / "filler"
    block = bytes(64 * 1024)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
    # Top up the last partial block, byte by byte in small steps.
    with filler.open("ab", buffering=0) as out:
        try:
            while True:
                out.write(bytes(512))
        except OSError as exc:
            assert exc.errno == 28, exc
    return filler


def big_value(tag: str) -> dict[str, str]:
    # Larger than anything SQLite's WAL could already have room for: the write must claim new space.
    return {"tag": tag, "blob": base64.b64encode(os.urandom(600 * 1024)).decode()}


def kv2_read(daemon: Daemon, token: str) -> dict[str, Any]:
    status, body = daemon.call("GET", "kv/data/app", token=token)
    assert status == 200, body
    return dict(body["data"])


def test_disk_full_write_fails_cleanly_and_recovers_without_restart(
    fault_daemons: FaultDaemons, small_disk: Path
) -> None:
    daemon = fault_daemons.make(storage_path=small_disk / "sealer.db")
    token = root_token(daemon)
    assert daemon.call("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "2"}}, token=token)[0] == 204
    status, body = daemon.call("POST", "kv/data/app", {"data": {"tag": "v1"}}, token=token)
    assert status == 200, body
    assert daemon.call("PUT", "secret/v1", {"tag": "v1"}, token=token)[0] == 204

    filler = fill(small_disk)
    status, body = daemon.call("POST", "kv/data/app", {"data": big_value("v2")}, token=token)
    assert status == 500, body
    message = body["errors"][0]
    assert f"sqlite storage at {small_disk / 'sealer.db'}" in message
    assert "database or disk is full" in message
    status, body = daemon.call("PUT", "secret/v2", big_value("v2"), token=token)
    assert status == 500, body

    # Nothing half-written: the version, its metadata and the KV v1 key are as before the failed writes.
    current = kv2_read(daemon, token)
    assert current["data"] == {"tag": "v1"}
    assert current["metadata"]["version"] == 1
    status, meta = daemon.call("GET", "kv/metadata/app", token=token)
    assert status == 200, meta
    assert meta["data"]["current_version"] == 1
    assert list(meta["data"]["versions"]) == ["1"]
    assert daemon.call("GET", "secret/v2", token=token)[0] == 404
    assert daemon.call("GET", "sys/health")[0] == 200

    filler.unlink()
    status, body = daemon.call("POST", "kv/data/app", {"data": big_value("v2")}, token=token)
    assert status == 200, body
    assert body["data"]["version"] == 2
    assert kv2_read(daemon, token)["data"]["tag"] == "v2"
    assert daemon.call("PUT", "secret/v2", {"tag": "v2"}, token=token)[0] == 204
    assert daemon.call("GET", "secret/v2", token=token)[1]["data"] == {"tag": "v2"}
    assert "database or disk is full" in daemon.log()
