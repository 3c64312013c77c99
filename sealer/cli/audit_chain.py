"""Offline verification of an audit file's MAC chain (the MAC itself is engine.audit.chain's), to the
contract the broker writes by:

    mac = HMAC-SHA256(chain_key, prev_hex + "\\n" + canonical)
    canonical = the line's JSON with "sealer_chain" reduced to {"seq", "prev"}, keys sorted, compact

Each line links to the one before it (`prev` is its mac, `seq` one more); the first line of a device has a
prev of 64 zeros, and every file starts with a "chain-start" line. So an edited or forged line fails its
own MAC, and a deleted, inserted, duplicated or reordered one breaks the link at the next line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.audit.chain import GENESIS as ZERO_MAC
from engine.audit.chain import mac_matches

CHAIN_START = "chain-start"


class ChainBroken(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def strip_prefix(raw: bytes, prefix: str | None) -> bytes:
    """The JSON part of a line: after `prefix` when given, else from its first "{"."""
    if prefix:
        encoded = prefix.encode()
        if not raw.startswith(encoded):
            raise ValueError(f"does not start with the prefix {prefix!r}")
        return raw[len(encoded):]
    start = raw.find(b"{")
    if start < 0:
        raise ValueError("is not a JSON line")
    return raw[start:]


def parse_line(raw: bytes, prefix: str | None) -> dict[str, Any]:
    try:
        entry = json.loads(strip_prefix(raw, prefix))
    except ValueError as exc:
        raise ValueError(str(exc) if "prefix" in str(exc) else "is not a complete JSON line") from None
    if not isinstance(entry, dict):
        raise ValueError("is not a JSON object")
    return entry


def split_lines(data: bytes) -> list[bytes]:
    """The file's lines; a last line without its newline is kept (and will fail: a torn write)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


@dataclass
class ChainVerifier:
    """Feed it files in order (the oldest rotated file first); it raises ChainBroken at the first bad line."""

    key: bytes = field(repr=False)
    prefix: str | None = None
    last_mac: str | None = None
    last_seq: int | None = None
    first_seq: int | None = None
    lines: int = 0
    unchecked_link: bool = False  # the first file links to an earlier file we were not given

    def feed_file(self, name: str, data: bytes) -> None:
        lines = split_lines(data)
        if not lines:
            raise ChainBroken(name, "the file is empty")
        for number, raw in enumerate(lines, start=1):
            self._feed_line(f"{name} line {number}", raw, first_in_file=number == 1)

    def _feed_line(self, where: str, raw: bytes, *, first_in_file: bool) -> None:
        try:
            entry = parse_line(raw, self.prefix)
        except ValueError as exc:
            raise ChainBroken(where, f"the line {exc}") from None
        chain = entry.pop("sealer_chain", None)
        if not isinstance(chain, dict):
            raise ChainBroken(where, "the line has no sealer_chain member (inserted, or not a chain line)")
        seq, prev, mac = chain.get("seq"), chain.get("prev"), chain.get("mac")
        if not isinstance(seq, int) or not isinstance(prev, str) or not isinstance(mac, str):
            raise ChainBroken(where, "the line's sealer_chain is malformed")
        if not mac_matches(entry, seq, prev, mac, self.key):
            raise ChainBroken(where, "the MAC does not match: the line was edited or forged "
                                     "(or this is not the device's key)")
        if first_in_file and entry.get("type") != CHAIN_START:
            raise ChainBroken(where, "the file does not begin with a chain-start line: "
                                     "its beginning was cut off")
        self._check_link(where, seq, prev, entry)
        self.last_mac, self.last_seq = mac, seq
        if self.first_seq is None:
            self.first_seq = seq
        self.lines += 1

    def _check_link(self, where: str, seq: int, prev: str, entry: dict[str, Any]) -> None:
        if self.last_mac is None:
            if prev == ZERO_MAC and entry.get("type") != CHAIN_START:
                raise ChainBroken(where, "a chain's first line must be a chain-start line")
            self.unchecked_link = prev != ZERO_MAC
            return
        assert self.last_seq is not None
        if seq > self.last_seq + 1:
            raise ChainBroken(where, f"sequence {seq} follows {self.last_seq}: "
                                     f"{seq - self.last_seq - 1} line(s) missing before it (deleted or moved)")
        if seq <= self.last_seq:
            raise ChainBroken(where, f"sequence {seq} follows {self.last_seq}: "
                                     "the line is out of order or repeated (moved, or copied in)")
        if prev != self.last_mac:
            raise ChainBroken(where, "the line does not link to the line before it "
                                     "(a line was replaced, or a file is missing between these)")


def verify(key: bytes, files: Iterable[tuple[str, bytes]], prefix: str | None = None) -> ChainVerifier:
    verifier = ChainVerifier(key=key, prefix=prefix)
    for name, data in files:
        verifier.feed_file(name, data)
    return verifier


def device_path(data: bytes, prefix: str | None = None) -> str | None:
    """The device a file belongs to, from its first (chain-start) line."""
    lines = split_lines(data)
    if not lines:
        return None
    try:
        entry = parse_line(lines[0], prefix)
    except ValueError:
        return None
    path = entry.get("device_path")
    return path if isinstance(path, str) and path else None
