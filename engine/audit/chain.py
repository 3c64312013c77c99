"""The tamper-evident chain (beyond Vault): each line carries an HMAC over the previous line's MAC
and its own canonical form, so a deleted, edited, inserted or reordered line breaks the chain.

    mac = HMAC-SHA256(chain_key, prev_hex + b"\\n" + canonical)
    canonical = JSON of the entry with "sealer_chain" = {"seq", "prev"}, keys sorted, compact, UTF-8

The canonical form is built a member at a time (encoding.py), and the written line is the same
members with "mac" added to "sealer_chain" (first: it sorts before "prev"), so the line as written is
in canonical order and a line costs one JSON encoding, or less when members are reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.audit.encoding import encode_name, encode_value, member_parts
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
    body = dict(entry)  # a shallow copy: the caller's entry is left as it was
    body[CHAIN_MEMBER] = {"prev": prev, "seq": seq}
    return encode_value(body)


def chain_mac(key: bytes, prev: str, canonical_bytes: bytes) -> str:
    return hmac_sha256(key, prev.encode("ascii") + b"\n" + canonical_bytes).hex()


def seal_line(entry: dict[str, Any], seq: int, prev: str, key: bytes) -> tuple[bytes, str]:
    """The line to write for `entry` as number `seq` after `prev`, and its MAC."""
    return seal_members({name: encode_value(value) for name, value in entry.items()}, seq, prev, key)


def seal_members(members: dict[str, bytes], seq: int, prev: str, key: bytes) -> tuple[bytes, str]:
    """seal_line for an entry whose members are encoded already (encoding.encode_value)."""
    position = b'"prev":"%s","seq":%d}' % (prev.encode("ascii"), seq)
    parts = member_parts({**members, CHAIN_MEMBER: b"{" + position})
    mac = chain_mac(key, prev, b"".join(parts))
    # The same pieces with the mac first in "sealer_chain" (a name piece ends in ':', so it is found alone).
    parts[parts.index(encode_name(CHAIN_MEMBER)) + 1] = b'{"mac":"%s",%s' % (mac.encode("ascii"), position)
    parts.append(b"\n")
    return b"".join(parts), mac


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
