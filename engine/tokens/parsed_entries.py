"""Parsed token entries, remembered next to the bytes they were parsed from.

Every request parses its token's entry; the entry cache (entry_cache.py) already hands back the very
same bytes object for as long as the stored entry is unchanged. So a parse is reused only while the
bytes presented are *that object* (an identity check, not a comparison): any write drops the cached
bytes, the next read brings a new object, and the entry is parsed afresh. The memo keeps the bytes
alive, so an identity can never be recycled by another object while it is remembered.

Callers get their own copy, containers included: use() and renew() reassign fields of the entry they
are given, and nothing one request does to its entry may leak into the next one's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from engine.tokens.entry import TokenEntry

DEFAULT_CAPACITY = 20_000


@dataclass(frozen=True, slots=True)
class _Parsed:
    # The entry's own repr keeps its internal data out; the raw JSON would not.
    raw: bytes = field(repr=False)
    entry: TokenEntry


class ParsedEntries:
    """A bounded memo of id_hash -> (the bytes, the entry parsed from them)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._parsed: dict[str, _Parsed] = {}

    def __len__(self) -> int:
        return len(self._parsed)

    def parse(self, id_hash: str, raw: bytes) -> TokenEntry:
        """The entry stored as `raw`, as a copy the caller may change."""
        parsed = self._parsed.get(id_hash)
        if parsed is None or parsed.raw is not raw:
            parsed = _Parsed(raw, TokenEntry.from_json(raw))
            self._parsed.pop(id_hash, None)  # re-inserted last: the oldest goes first when full
            self._parsed[id_hash] = parsed
            if len(self._parsed) > self._capacity:
                del self._parsed[next(iter(self._parsed))]
        return _own_copy(parsed.entry)

    def forget(self, id_hash: str) -> None:
        self._parsed.pop(id_hash, None)


def _own_copy(entry: TokenEntry) -> TokenEntry:
    # Cheaper than copy.copy (no __reduce_ex__ round): this runs on every request.
    mine = object.__new__(TokenEntry)
    mine.__dict__.update(entry.__dict__)
    mine.policies = list(entry.policies)
    mine.bound_cidrs = list(entry.bound_cidrs)
    if entry.meta is not None:
        mine.meta = dict(entry.meta)
    if entry.internal_data:
        # Parsed from JSON: nested dicts and lists are possible, and each caller must own them.
        mine.internal_data = copy.deepcopy(entry.internal_data)
    else:
        mine.internal_data = {}
    return mine
