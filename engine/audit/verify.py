"""Offline check of a device's chain: every line's MAC is right, its seq follows and its prev is the
MAC of the line before. A file may begin with a "chain-start" line linking to an older file
(rotation); any other first line must be the device's very first (seq 0 after 64 zeros)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from engine.audit.chain import GENESIS, check_line


@dataclass(frozen=True)
class Verdict:
    ok: bool
    lines: int  # lines checked (all of them when ok)
    broken_line: int = 0  # 1-based; 0 when ok
    reason: str = ""


def verify_lines(lines: Iterable[bytes], key: bytes, prefix: bytes = b"") -> Verdict:
    last: tuple[int, str] | None = None  # (seq, mac) of the line before
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\n")
        if prefix:
            if not line.startswith(prefix):
                return Verdict(False, number - 1, number, "missing prefix")
            line = line[len(prefix):]
        try:
            entry = json.loads(line)
        except ValueError:
            return Verdict(False, number - 1, number, "not a JSON line")
        if not isinstance(entry, dict):
            return Verdict(False, number - 1, number, "not a JSON object")
        checked = check_line(entry, key)
        if checked is None:
            return Verdict(False, number - 1, number, "MAC mismatch (line edited, or not from this device)")
        seq, prev, mac = checked
        if last is None:
            if entry.get("type") != "chain-start" and (seq != 0 or prev != GENESIS):
                return Verdict(False, 0, number, f"chain does not start here (seq {seq}): earlier lines missing")
        elif seq != last[0] + 1:
            return Verdict(False, number - 1, number, f"seq {seq} follows {last[0]}: lines missing or reordered")
        elif prev != last[1]:
            return Verdict(False, number - 1, number, "prev does not match the line before")
        last = (seq, mac)
    return Verdict(True, number)
