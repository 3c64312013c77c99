"""`sealer audit verify` on files built here to the chain contract: intact chains pass, and each kind of
tampering is caught at the first broken line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
from pathlib import Path

import pytest

from sealer.cli.audit import decode_key
from sealer.cli.env import Env
from sealer.cli.main import main

KEY = os.urandom(32)
ZEROS = "0" * 64


class Chain:
    """Writes lines exactly as the broker's contract says, independently of the engine's code."""

    def __init__(self, key: bytes = KEY, prefix: str = "") -> None:
        self.key, self.prefix, self.seq, self.prev = key, prefix, 0, ZEROS

    def line(self, entry: dict) -> bytes:
        body = {**entry, "sealer_chain": {"seq": self.seq, "prev": self.prev}}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        mac = hmac.new(self.key, self.prev.encode() + b"\n" + canonical, hashlib.sha256).hexdigest()
        full = {**entry, "sealer_chain": {"seq": self.seq, "prev": self.prev, "mac": mac}}
        self.seq, self.prev = self.seq + 1, mac
        return self.prefix.encode() + json.dumps(full, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

    def start(self) -> bytes:
        return self.line({"type": "chain-start", "time": "2026-11-29T16:00:00.000000001Z",
                          "device_path": "file/"})

    def request(self, n: int) -> bytes:
        return self.line({"type": "request", "time": "2026-11-29T16:00:01Z",
                          "request": {"id": f"id-{n}", "path": "secret/x", "data": {"v": "hmac-sha256:ab"}},
                          "note": "héllo"})


def audit_file(chain: Chain, count: int = 5) -> list[bytes]:
    return [chain.start(), *(chain.request(n) for n in range(count))]


def run(tmp_path: Path, lines_by_file: list[list[bytes]], *extra: str,
        key: bytes = KEY) -> tuple[int, str, str]:
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"data": {"key": base64.b64encode(key).decode(), "path": "file/"}}))
    names = []
    for index, lines in enumerate(lines_by_file):
        path = tmp_path / f"audit-{index}.log"
        path.write_bytes(b"".join(lines))
        names.append(str(path))
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify", f"-key={key_file}", *extra, *names], Env(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_an_intact_chain_verifies(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, [audit_file(Chain())])
    assert (code, err) == (0, "")
    assert "intact: 6 lines, sequence 0 to 5" in out


def test_an_edited_line_is_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    lines[3] = lines[3].replace(b"secret/x", b"secret/y")
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 4:" in err and "edited or forged" in err


def test_a_deleted_line_is_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    del lines[2]
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 3:" in err and "missing before it" in err


def test_a_deleted_last_line_is_not_detectable_but_the_rest_verifies(tmp_path: Path) -> None:
    code, _, _ = run(tmp_path, [audit_file(Chain())[:-1]])
    assert code == 0


def test_an_inserted_copy_of_a_genuine_line_is_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    lines.insert(4, lines[2])
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 5:" in err and "out of order or repeated" in err


def test_an_inserted_forged_line_is_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    forger = Chain(key=os.urandom(32))
    forger.seq, forger.prev = 3, json.loads(lines[2])["sealer_chain"]["mac"]
    lines.insert(3, forger.request(99))
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 4:" in err and "MAC does not match" in err


def test_a_line_without_chain_is_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    lines.insert(2, b'{"type":"request"}\n')
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 3:" in err and "no sealer_chain" in err


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    lines[2], lines[3] = lines[3], lines[2]
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 3:" in err


def test_a_truncated_start_is_detected(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    code, _, err = run(tmp_path, [lines[2:]])
    assert code == 1
    assert "line 1:" in err and "cut off" in err


def test_a_torn_last_line_is_named(tmp_path: Path) -> None:
    lines = audit_file(Chain())
    lines[-1] = lines[-1][:20]
    code, _, err = run(tmp_path, [lines])
    assert code == 1
    assert "line 6:" in err and "not a complete JSON line" in err


def test_the_wrong_key_fails_at_the_first_line(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, [audit_file(Chain())], key=os.urandom(32))
    assert code == 1
    assert "line 1:" in err and "not the device's key" in err


def test_rotated_files_link_and_a_missing_middle_file_is_detected(tmp_path: Path) -> None:
    chain = Chain()
    first, second, third = audit_file(chain, 2), audit_file(chain, 2), audit_file(chain, 2)
    code, out, _ = run(tmp_path, [first, second, third])
    assert code == 0 and "sequence 0 to 8" in out
    code, out, _ = run(tmp_path, [third])
    assert code == 0 and "continues a chain from an earlier file" in out
    code, _, err = run(tmp_path, [first, third])
    assert code == 1 and "audit-1.log line 1:" in err and "missing" in err


def test_a_prefix_is_stripped(tmp_path: Path) -> None:
    lines = audit_file(Chain(prefix="AUDIT{x} "))
    assert run(tmp_path, [lines], "-prefix=AUDIT{x} ")[0] == 0
    code, _, err = run(tmp_path, [lines], "-prefix=OTHER ")
    assert code == 1 and "prefix" in err


@pytest.mark.parametrize("form", ["bare", "json", "data"])
def test_key_forms(form: str) -> None:
    b64 = base64.b64encode(KEY).decode()
    text = {"bare": b64 + "\n", "json": json.dumps({"key": b64}),
            "data": json.dumps({"data": {"key": b64, "type": "file"}})}[form]
    assert decode_key(text) == KEY
    with pytest.raises(ValueError):
        decode_key("not base64 at all!")


def test_without_key_or_chain_start_it_asks_for_a_path(tmp_path: Path) -> None:
    path = tmp_path / "plain.log"
    path.write_bytes(b'{"type":"request"}\n')
    err = io.StringIO()
    code = main(["audit", "verify", str(path)], Env(stdout=io.StringIO(), stderr=err, environ={}))
    assert code == 1 and "-path" in err.getvalue()
