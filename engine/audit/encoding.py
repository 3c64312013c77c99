"""Canonical JSON for audit lines, a member at a time: sorted keys, compact, UTF-8.

A line's canonical form is its top-level members in name order, each value encoded alone, so a member
seen before can reuse its encoding. Two do repeat: a request's "request" block (in its request line and
again in its response line) and the caller's "auth" block (the same on every request a token makes).
`MemberEncodings` keeps those encodings; one is reused only when the value equals the one it was made
from, so a block that changed (another token entry, a request body a handler edited) is encoded afresh.
(Equal as Python values: 1, 1.0 and True would pass for one another; these blocks never mix them.)"""

from __future__ import annotations

import functools
import json
from typing import Any

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# What the encoder itself does with a string (ensure_ascii=False): escape it and quote it.
_encode_string = json.encoder.encode_basestring

# Encodings kept per device before starting over (requests whose response line never came leave theirs).
KEPT_ENCODINGS = 1024
# The members that repeat, and the field of each that tells its occurrences apart.
_REPEATING = {"request": "id", "auth": "client_token"}


def encode_value(value: Any) -> bytes:
    if type(value) is str:
        return _encode_string(value).encode()
    return _ENCODER.encode(value).encode()


@functools.lru_cache(maxsize=64)
def encode_name(name: str) -> bytes:
    return _encode_string(name).encode() + b":"


def member_parts(members: dict[str, bytes]) -> list[bytes]:
    """The pieces of the JSON object of already encoded members, in name order: joined, they are what
    encoding the whole object gives."""
    if not members:
        return [b"{}"]
    parts = [b"{"]
    for name in sorted(members):
        parts += (encode_name(name), members[name], b",")
    parts[-1] = b"}"
    return parts


class MemberEncodings:
    """The encodings of the members that repeat from line to line, for one device."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], tuple[Any, bytes]] = {}

    def encode(self, entry: dict[str, Any]) -> dict[str, bytes]:
        """Each member of `entry`, encoded."""
        members: dict[str, bytes] = {}
        kept = self._kept
        for name, value in entry.items():
            field = _REPEATING.get(name)
            if field is None or type(value) is not dict:
                members[name] = encode_value(value)
                continue
            tag = (name, str(value.get(field)))
            earlier = kept.get(tag)
            if earlier is not None and earlier[0] == value:
                if name == "request":
                    del kept[tag]  # its response line was the last to need it
                members[name] = earlier[1]
                continue
            encoded = members[name] = _ENCODER.encode(value).encode()
            if len(kept) >= KEPT_ENCODINGS:
                kept.clear()
            kept[tag] = (value, encoded)
        return members
