"""The tamper-evident chain (beyond Vault): each line carries an HMAC over the previous line's MAC
and its own canonical form, so a deleted, edited, inserted or reordered line breaks the chain.

    mac = HMAC-SHA256(chain_key, prev_hex + b"\\n" + canonical)
    canonical = JSON of the entry with "sealer_chain" = {"seq", "prev"}, keys sorted, compact, UTF-8

The written line is the same JSON with "mac" added to "sealer_chain" (first: it sorts before "prev"),
so the line as written is in canonical order. A check accepts either canonical encoding (encoding.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from engine.audit.encoding import canonical_json, legacy_canonical_json
from engine.crypto import HmacSha256, constant_time_equal

CHAIN_MEMBER = "sealer_chain"
GENESIS = "0" * 64


@dataclass
class ChainState:
    """Where a device's chain stands: the seq of the next line and the MAC of the last one."""

    seq: int = 0
    prev: str = GENESIS

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "prev": self.prev}


def _positioned(entry: dict[str, Any], seq: int, prev: str) -> dict[str, Any]:
    body = dict(entry)  # a shallow copy: the caller's entry is left as it was
    body[CHAIN_MEMBER] = {"prev": prev, "seq": seq}
    return body


def canonical(entry: dict[str, Any], seq: int, prev: str) -> bytes:
    return canonical_json(_positioned(entry, seq, prev))


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes) -> HmacSha256:
    # One per device's chain key: every line of a device is MACed under the same key.
    return HmacSha256(key)


def chain_mac(key: bytes, prev: str, canonical_bytes: bytes) -> str:
    return _keyed(key).digest(prev.encode("ascii") + b"\n" + canonical_bytes).hex()


def seal_line(entry: dict[str, Any], seq: int, prev: str, key: bytes) -> tuple[bytes, str]:
    """The line to write for `entry` as number `seq` after `prev`, and its MAC."""
    body = _positioned(entry, seq, prev)
    mac = chain_mac(key, prev, canonical_json(body))
    body[CHAIN_MEMBER] = {"mac": mac, "prev": prev, "seq": seq}
    return canonical_json(body) + b"\n", mac


def mac_matches(entry: dict[str, Any], seq: int, prev: str, mac: str, key: bytes) -> bool:
    """Whether `mac` is the MAC of `entry` (its chain member aside) as line `seq` after `prev`."""
    body = _positioned(entry, seq, prev)
    for encode in (canonical_json, legacy_canonical_json):
        try:
            expected = chain_mac(key, prev, encode(body))
        except (TypeError, ValueError):  # the legacy encoder refuses what orjson took (NaN is fine)
            continue
        if constant_time_equal(expected.encode(), mac.encode()):
            return True
    return False


def check_line(entry: dict[str, Any], key: bytes) -> tuple[int, str, str] | None:
    """(seq, prev, mac) of a parsed line when its MAC is right, else None."""
    chain = entry.get(CHAIN_MEMBER)
    if not isinstance(chain, dict):
        return None
    seq, prev, mac = chain.get("seq"), chain.get("prev"), chain.get("mac")
    if not isinstance(seq, int) or not isinstance(prev, str) or not isinstance(mac, str):
        return None
    if not mac_matches(entry, seq, prev, mac, key):
        return None
    return seq, prev, mac
