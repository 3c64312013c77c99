"""Compact JSON as bytes, the one encoder behind responses, stored records and audit lines.

orjson writes it (several times the standard library's speed; datetimes as isoformat() writes them). What
orjson refuses (integers beyond 64 bits, keys that are not strings) is written by the standard library with
the same options: compact, UTF-8 rather than ASCII escapes, keys sorted when asked.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson


def _isoformat(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_STDLIB = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_isoformat)
_STDLIB_SORTED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=_isoformat)


def compact_json(value: Any, *, sort_keys: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:  # orjson.JSONEncodeError
        return stdlib_json(value, sort_keys=sort_keys)


def stdlib_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """The standard library's encoding with the same options (the audit chain's older canonical form)."""
    return (_STDLIB_SORTED if sort_keys else _STDLIB).encode(value).encode()
