"""A sealed line is exactly its canonical form (plus the mac), whatever the values hold; lines in the
standard library's canonical form (every line written before orjson) and the values orjson cannot
encode still verify, and an edit still fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.audit.chain import GENESIS, canonical, chain_mac, check_line, seal_line
from engine.audit.encoding import legacy_canonical_json

KEY = b"k" * 32

AWKWARD: dict[str, Any] = {
    "type": "request",
    "time": "2026-01-01T00:00:00.000000001Z",
    "auth": {"client_token": "hmac-sha256:aa", "metadata": {"zeta": "1", "Alpha": "\u00e9\u4e2d", "": None}},
    "request": {
        "id": "r1",
        "data": {"sealer_chain": {"prev": "x", "seq": 1}, "quote\"back\\slash": ["\n\t\u0001\u2028", 1.5, True, None]},
        "path": "secret/\u2603",
    },
    "error": "permission denied",
    "\u00fcber": {"b": 2, "a": 1},
}


def test_a_sealed_line_is_its_canonical_form_with_the_mac() -> None:
    line, mac = seal_line(AWKWARD, 7, GENESIS, KEY)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    parsed = json.loads(line)
    assert parsed["sealer_chain"] == {"mac": mac, "prev": GENESIS, "seq": 7}
    assert check_line(parsed, KEY) == (7, GENESIS, mac)
    # The line as written is in canonical order: dropping the mac gives the canonical bytes.
    assert line.replace(f'"mac":"{mac}",'.encode(), b"").rstrip(b"\n") == canonical(AWKWARD, 7, GENESIS)
    assert list(parsed) == sorted(parsed)
    # And it is the standard library's canonical form too, for values both encode alike.
    assert canonical(AWKWARD, 7, GENESIS) == legacy_canonical_json({**AWKWARD, "sealer_chain": {"prev": GENESIS,
                                                                                                 "seq": 7}})


def _legacy_line(entry: dict[str, Any], seq: int, prev: str) -> bytes:
    """A line as the daemon wrote it before orjson: the standard library's canonical JSON."""
    mac = chain_mac(KEY, prev, legacy_canonical_json({**entry, "sealer_chain": {"prev": prev, "seq": seq}}))
    return legacy_canonical_json({**entry, "sealer_chain": {"mac": mac, "prev": prev, "seq": seq}})


@pytest.mark.parametrize("data", [{"ttl": 1e-07}, {"n": float("nan")}, {"big": 2**70}, {"plain": "x"}])
def test_lines_in_the_standard_librarys_form_still_verify(data: dict[str, Any]) -> None:
    entry = {**AWKWARD, "request": {"id": "r2", "data": data}}
    line = _legacy_line(entry, 3, GENESIS)
    assert check_line(json.loads(line), KEY) is not None
    edited = json.loads(line)
    edited["request"]["id"] = "r3"
    assert check_line(edited, KEY) is None


@pytest.mark.parametrize("data", [{"ttl": 1e-07}, {"n": float("inf")}, {"big": 2**70}])
def test_values_the_two_encoders_differ_on_seal_and_verify(data: dict[str, Any]) -> None:
    line, mac = seal_line({**AWKWARD, "request": {"id": "r2", "data": data}}, 4, GENESIS, KEY)
    assert check_line(json.loads(line), KEY) == (4, GENESIS, mac)


def test_consecutive_lines_link() -> None:
    prev, lines = GENESIS, []
    for seq in range(3):
        line, prev = seal_line(AWKWARD, seq, prev, KEY)
        lines.append(line)
    checked = [check_line(json.loads(line), KEY) for line in lines]
    assert [c[0] for c in checked if c] == [0, 1, 2]
    assert [c[1] for c in checked if c][1:] == [c[2] for c in checked if c][:-1]
