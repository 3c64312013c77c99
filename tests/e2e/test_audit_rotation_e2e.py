"""The audit chain with the daemon as a real process: SIGHUP rotation starts a new file whose chain links
to the old one, `sealer audit verify` passes the genuine files (key from the daemon or exported), and
catches each kind of tampering at the first broken line."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.audit_helpers import assert_no_clear_values, enable, start
from tests.e2e.daemon import Daemon
from tests.e2e.lifecycle_helpers import sealer

SECRET = "chain-secret-value-4be0"


def write(daemon: Daemon, root: str, n: int) -> None:
    assert daemon.call("POST", f"secret/item{n}", {"value": f"{SECRET}-{n}"}, token=root)[0] == 204


def delete_line(lines: list[bytes]) -> list[bytes]:
    return lines[:3] + lines[4:]


def edit_line(lines: list[bytes]) -> list[bytes]:
    prefix, brace, body = lines[3].partition(b"{")
    entry = json.loads(brace + body)
    entry["request"]["path"] = "secret/elsewhere"
    return [*lines[:3], prefix + json.dumps(entry, separators=(",", ":")).encode() + b"\n", *lines[4:]]


def insert_line(lines: list[bytes]) -> list[bytes]:
    return [*lines[:4], lines[1], *lines[4:]]


def reorder_lines(lines: list[bytes]) -> list[bytes]:
    return [*lines[:3], lines[4], lines[3], *lines[5:]]


def cut_start(lines: list[bytes]) -> list[bytes]:
    return lines[3:]


TAMPERING: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str, str]] = {
    "deleted": (delete_line, "line 4:", "missing before it"),
    "edited": (edit_line, "line 4:", "edited or forged"),
    "inserted": (insert_line, "line 5:", "out of order or repeated"),
    "reordered": (reorder_lines, "line 4:", "missing before it"),
    "truncated start": (cut_start, "line 1:", "cut off"),
}


@pytest.fixture
def rotated(daemons, softhsm_token, tmp_path: Path) -> tuple[Daemon, str, Path, Path]:
    """A daemon with a file device whose log was rotated once by SIGHUP."""
    daemon, root = start(daemons, softhsm_token, tmp_path)
    current = tmp_path / "audit.log"
    enable(daemon, root, "file", f"file_path={current}", "prefix=sealer-audit: ")
    for n in range(3):
        write(daemon, root, n)
    old = tmp_path / "audit.log.1"
    current.rename(old)
    assert daemon.process is not None
    os.kill(daemon.process.pid, signal.SIGHUP)
    daemon.wait_until(current.exists, "the device to reopen its file")
    for n in range(3, 5):
        write(daemon, root, n)
    return daemon, root, old, current


def test_rotation_links_the_new_file_to_the_old_one(rotated, tmp_path: Path) -> None:
    daemon, root, old, current = rotated
    first_new = json.loads(current.read_bytes().splitlines()[0].removeprefix(b"sealer-audit: "))
    last_old = json.loads(old.read_bytes().splitlines()[-1].removeprefix(b"sealer-audit: "))
    assert first_new["type"] == "chain-start"
    assert first_new["sealer_chain"]["prev"] == last_old["sealer_chain"]["mac"]
    assert first_new["sealer_chain"]["seq"] == last_old["sealer_chain"]["seq"] + 1

    both = sealer(daemon, "audit", "verify", "-prefix=sealer-audit: ", str(old), str(current), token=root)
    assert both.returncode == 0, both.stderr
    alone = sealer(daemon, "audit", "verify", str(current), token=root)
    assert alone.returncode == 0 and "continues a chain from an earlier file" in alone.stdout
    swapped = sealer(daemon, "audit", "verify", str(current), str(old), token=root)
    assert swapped.returncode == 1 and "out of order" in swapped.stderr

    # The exported key verifies with no daemon to ask.
    status, body = daemon.call("GET", "sys/audit/file/verification-key", token=root)
    assert status == 200 and body["data"]["path"] == "file/"
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(body))
    daemon.stop()
    offline = sealer(daemon, "audit", "verify", f"-key={key_file}", str(old), str(current))
    assert offline.returncode == 0, offline.stderr
    assert_no_clear_values(tmp_path, [root, *(f"{SECRET}-{n}" for n in range(5))])


def test_verify_names_the_first_broken_line_of_each_tampering(rotated, tmp_path: Path) -> None:
    daemon, root, old, _ = rotated
    lines = old.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 7
    for kind, (tamper, where, why) in TAMPERING.items():
        copy = tmp_path / f"tampered-{kind.replace(' ', '-')}.log"
        copy.write_bytes(b"".join(tamper(lines)))
        result = sealer(daemon, "audit", "verify", "-path=file", str(copy), token=root)
        assert result.returncode == 1, (kind, result.stdout)
        assert f"{copy} {where}" in result.stderr and why in result.stderr, (kind, result.stderr)
    genuine = sealer(daemon, "audit", "verify", str(old), token=root)
    assert genuine.returncode == 0, genuine.stderr
