"""The tamper-evident chain (beyond Vault): each line carries an HMAC over the previous line's MAC
and its own canonical form, so a deleted, edited, inserted or reordered line breaks the chain.

    mac = HMAC-SHA256(chain_key, prev_hex + b"\\n" + canonical)
    canonical = JSON of the entry with "sealer_chain" = {"seq", "prev"}, keys sorted, compact, UTF-8
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.crypto import constant_time_equal, hmac_sha256

CHAIN_MEMBER = "sealer_chain"
GENESIS = "0" * 64


@dataclass
class ChainState:
    """Where a device's chain stands: the seq of the next line and the MAC of the last one."""

    seq: int = 0
    prev: str = GENESIS

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "prev": self.prev}


def canonical(entry: dict[str, Any], seq: int, prev: str) -> bytes:
    body = {k: v for k, v in entry.items() if k != CHAIN_MEMBER}
    body[CHAIN_MEMBER] = {"seq": seq, "prev": prev}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_mac(key: bytes, prev: str, canonical_bytes: bytes) -> str:
    return hmac_sha256(key, prev.encode("ascii") + b"\n" + canonical_bytes).hex()


def seal_line(entry: dict[str, Any], seq: int, prev: str, key: bytes) -> tuple[bytes, str]:
    """The line to write for `entry` as number `seq` after `prev`, and its MAC."""
    mac = chain_mac(key, prev, canonical(entry, seq, prev))
    chained = {k: v for k, v in entry.items() if k != CHAIN_MEMBER}
    chained[CHAIN_MEMBER] = {"seq": seq, "prev": prev, "mac": mac}
    return json.dumps(chained, separators=(",", ":"), ensure_ascii=False).encode() + b"\n", mac


def check_line(entry: dict[str, Any], key: bytes) -> tuple[int, str, str] | None:
    """(seq, prev, mac) of a parsed line when its MAC is right, else None."""
    chain = entry.get(CHAIN_MEMBER)
    if not isinstance(chain, dict):
        return None
    seq, prev, mac = chain.get("seq"), chain.get("prev"), chain.get("mac")
    if not isinstance(seq, int) or not isinstance(prev, str) or not isinstance(mac, str):
        return None
    if not constant_time_equal(chain_mac(key, prev, canonical(entry, seq, prev)).encode(), mac.encode()):
        return None
    return seq, prev, mac
