"""Canonical JSON for audit lines: keys sorted, compact, UTF-8 (not ASCII-escaped).

engine.json_bytes writes it with orjson, and with the standard library what orjson refuses. The two agree
byte for byte on what audit lines hold, with three exceptions: floats in exponent form below 1e-4 (orjson
"1e-7", the standard library "1e-07"), NaN and infinities (orjson writes null), and integers beyond 64
bits, which orjson refuses. So a line's check (chain.py) accepts either form: lines written before orjson,
and the fallbacks, still verify.
"""

from __future__ import annotations

from typing import Any

from engine.json_bytes import compact_json, stdlib_json


def canonical_json(value: Any) -> bytes:
    return compact_json(value, sort_keys=True)


def legacy_canonical_json(value: Any) -> bytes:
    """The standard library's canonical form (all lines were written in it before orjson)."""
    return stdlib_json(value, sort_keys=True)
