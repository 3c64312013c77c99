"""Lines built a member at a time are exactly the canonical form (plus the mac), whatever the values hold;
a kept member encoding is reused only for an equal value."""

from __future__ import annotations

import json
from typing import Any

from engine.audit.chain import GENESIS, canonical, check_line, seal_line, seal_members
from engine.audit.encoding import MemberEncodings, encode_value

KEY = b"k" * 32

AWKWARD: dict[str, Any] = {
    "type": "request",
    "time": "2026-01-01T00:00:00.000000001Z",
    "auth": {"client_token": "hmac-sha256:aa", "metadata": {"zeta": "1", "Alpha": "\u00e9\u4e2d", "": None}},
    "request": {
        "id": "r1",
        "data": {"sealer_chain": {"prev": "x", "seq": 1}, "quote\"back\\slash": ["\n\t\u0001", 1.5, True, None]},
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


def test_kept_encodings_are_reused_only_for_equal_values() -> None:
    encodings = MemberEncodings()
    first = {"client_token": "hmac-sha256:aa", "policies": ["default"]}
    assert encodings.encode({"auth": first}) == {"auth": encode_value(first)}
    changed = {"client_token": "hmac-sha256:aa", "policies": ["default", "admin"]}
    assert encodings.encode({"auth": changed}) == {"auth": encode_value(changed)}  # same token, other content
    request = {"id": "r1", "path": "a"}
    assert encodings.encode({"request": request}) == {"request": encode_value(request)}
    edited = {"id": "r1", "path": "b"}
    assert encodings.encode({"request": edited}) == {"request": encode_value(edited)}


def test_members_sealed_from_kept_encodings_verify() -> None:
    encodings = MemberEncodings()
    prev, lines = GENESIS, []
    for seq in range(3):
        line, prev = seal_members(encodings.encode(AWKWARD), seq, prev, KEY)
        lines.append(line)
    assert [check_line(json.loads(line), KEY) is not None for line in lines] == [True, True, True]
