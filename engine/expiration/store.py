"""Where leases live behind the barrier (Vault's sys/expire/ view):

    sys/expire/id/<lease_id>                         LeaseEntry (JSON); lease ids contain '/', so the
                                                     keys form folders and LIST walks them by prefix
    sys/expire/token/<token_hash>/<sha256(lease_id)> the lease id: every lease a token holds (its
                                                     secrets' and its own), found without a scan
    sys/expire/due/<due>:<i|->:<escaped lease_id>    empty: when each lease is next due and whether it
                                                     is irrevocable, in the key itself

The due index is what start-up reads: one listing gives every lease id and due time without
decrypting a single entry. (Keys are not encrypted by the barrier; lease ids already appear in the
id/ keys, so the index adds only the due times.) Each write keeps the three in one batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from engine.expiration.entry import LeaseEntry
from engine.storage.base import BatchOp, Delete, Put, Storage
from engine.storage.view import View, all_keys

ROOT = "sys/expire/"
_IDS = "id/"
_BY_TOKEN = "token/"
_DUE = "due/"


class Due(NamedTuple):
    lease_id: str
    due: float
    irrevocable: bool


def _token_key(entry: LeaseEntry) -> str:
    return f"{_BY_TOKEN}{entry.token_hash}/{hashlib.sha256(entry.lease_id.encode()).hexdigest()}"


def _due_name(entry: LeaseEntry) -> str:
    # repr() of a float reads back exactly; the id is escaped to stay one key segment.
    escaped = entry.lease_id.replace("%", "%25").replace("/", "%2F")
    return f"{entry.due!r}:{'i' if entry.irrevocable else '-'}:{escaped}"


def _parse_due(name: str) -> Due | None:
    due, flag, escaped = [*name.split(":", 2), "", ""][:3]
    try:
        moment = float(due)
    except ValueError:
        return None
    # Every '%' left by the escaping starts "%25" or "%2F", so undoing "%2F" first is exact.
    lease_id = escaped.replace("%2F", "/").replace("%25", "%")
    return Due(lease_id, moment, flag == "i") if lease_id else None


class LeaseStore:
    def __init__(self, storage: Storage) -> None:
        # Views refuse any "..": a lease id or prefix taken from a request cannot reach outside.
        self._root = View(storage, ROOT)
        self._ids = self._root.sub_view(_IDS)
        self._by_token = self._root.sub_view(_BY_TOKEN)

    async def get(self, lease_id: str) -> LeaseEntry | None:
        if not lease_id or lease_id.endswith("/"):
            return None
        raw = await self._ids.get(lease_id)
        return None if raw is None else LeaseEntry.from_json(raw)

    async def save(self, entry: LeaseEntry) -> None:
        """Write the entry with its token and due indexes in one batch."""
        await self._root.batch(_write(entry))

    async def save_many(self, entries: Iterable[LeaseEntry]) -> None:
        """Write many entries in one batch (imports, tests)."""
        await self._root.batch([op for entry in entries for op in _write(entry)])

    async def delete(self, entry: LeaseEntry) -> None:
        await self._root.batch(_forget(entry))

    async def move(self, old: LeaseEntry, new: LeaseEntry) -> None:
        """Re-key a lease (its mount moved) in one batch."""
        new.due_key = _due_name(new)
        ops = _forget(old)
        ops += [Put(_DUE + new.due_key, b""), Put(_IDS + new.lease_id, new.to_json())]
        if new.token_hash:
            ops.append(Put(_token_key(new), new.lease_id.encode()))
        await self._root.batch(ops)

    async def due(self) -> Iterator[Due]:
        """Every lease's id and due time, from one listing (start-up)."""
        names = await self._root.list(_DUE)
        return (found for found in map(_parse_due, names) if found is not None)

    async def list(self, prefix: str) -> list[str]:
        """One level below `prefix`, as LIST sys/leases/lookup/<prefix> shows it."""
        return await self._ids.list(prefix)

    async def ids_under(self, prefix: str) -> list[str]:
        """Every lease id below `prefix` (which ends in '/', or is empty for all)."""
        return [prefix + key for key in await all_keys(self._ids, prefix)]

    async def held_by(self, token_hash: str) -> list[str]:
        """The ids of every lease indexed under the token."""
        if not token_hash or "/" in token_hash:
            return []
        folder = token_hash + "/"
        found: list[str] = []
        for name in await self._by_token.list(folder):
            raw = await self._by_token.get(folder + name)
            if raw is not None:
                found.append(raw.decode())
        return found


def _write(entry: LeaseEntry) -> list[BatchOp]:
    ops: list[BatchOp] = []
    name = _due_name(entry)
    if entry.due_key != name:
        if entry.due_key:
            ops.append(Delete(_DUE + entry.due_key))
        ops.append(Put(_DUE + name, b""))
        entry.due_key = name
    ops.append(Put(_IDS + entry.lease_id, entry.to_json()))
    if entry.token_hash:
        ops.append(Put(_token_key(entry), entry.lease_id.encode()))
    return ops


def _forget(entry: LeaseEntry) -> list[BatchOp]:
    ops: list[BatchOp] = [Delete(_IDS + entry.lease_id)]
    if entry.due_key:
        ops.append(Delete(_DUE + entry.due_key))
    if entry.token_hash:
        ops.append(Delete(_token_key(entry)))
    return ops
