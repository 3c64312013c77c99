"""Where leases live behind the barrier (Vault's sys/expire/ view):

    sys/expire/id/<lease_id>                         LeaseEntry (JSON); lease ids contain '/', so the
                                                     keys form folders and LIST walks them by prefix
    sys/expire/token/<token_hash>/<sha256(lease_id)> the lease id: every secret lease a token holds,
                                                     found without a scan
    sys/expire/due/<bucket>/<due>:<i|->:<escaped lease_id>
                                                     empty: when each lease is next due and whether it
                                                     is irrevocable, in the key itself

The due index is what start-up reads: listings give every lease id and due time without decrypting a
single entry. (Keys are not encrypted by the barrier; lease ids already appear in the id/ keys, so the
index adds only the due times.) <bucket> is the first hex digit of sha256(lease_id): 16 folders, so
the restore, running while requests are answered, holds the event loop for a sixteenth of the index at
a time rather than for one listing of every lease (and a storage that scans all its keys per listing,
as the in-memory one does, pays for only 17 listings). Names straight under due/ are from before the
buckets: still read, and moved into their bucket at the lease's next write.

Each write keeps the three in one batch. A token's own lease is not in the token index: its id is
"<token path>/<token hash>", which the manager computes (as Vault does), and a token create or login, the
busiest durable write, then costs one row fewer at a random key. Stores from before keep an index row for
token leases too: the manager still looks there when a token's lease is not at its computed id,
and every delete still drops it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import NamedTuple

from engine.expiration.entry import TOKEN, LeaseEntry
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


def _digest(lease_id: str) -> str:
    return hashlib.sha256(lease_id.encode()).hexdigest()


def _token_key(entry: LeaseEntry, digest: str) -> str:
    return f"{_BY_TOKEN}{entry.token_hash}/{digest}"


def _due_name(entry: LeaseEntry, digest: str) -> str:
    # repr() of a float reads back exactly; the id is escaped to stay one key segment.
    escaped = entry.lease_id.replace("%", "%25").replace("/", "%2F")
    return f"{digest[0]}/{entry.due!r}:{'i' if entry.irrevocable else '-'}:{escaped}"


def parse_due(names: Iterable[str]) -> Iterator[Due]:
    """The due index entries among `names` (anything else is skipped). Start-up parses one per lease:
    kept cheap."""
    for name in names:
        try:
            due, flag, escaped = name.split(":", 2)
            moment = float(due)
        except ValueError:
            continue
        if "%" in escaped:
            # Every '%' left by the escaping starts "%25" or "%2F", so undoing "%2F" first is exact.
            escaped = escaped.replace("%2F", "/").replace("%25", "%")
        if escaped:
            yield Due(escaped, moment, flag == "i")


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

    def writes(self, entry: LeaseEntry) -> list[BatchOp]:
        """What save() writes, with full storage keys: for a caller that commits them in a batch of its
        own (a token and its lease, in one)."""
        return self._root.outer(_write(entry))

    async def save_many(self, entries: Iterable[LeaseEntry]) -> None:
        """Write many entries in one batch (imports, tests)."""
        await self._root.batch([op for entry in entries for op in _write(entry)])

    async def delete(self, entry: LeaseEntry) -> None:
        await self._root.batch(_forget(entry))

    async def move(self, old: LeaseEntry, new: LeaseEntry) -> None:
        """Re-key a lease (its mount moved) in one batch."""
        digest = _digest(new.lease_id)
        new.due_key = _due_name(new, digest)
        ops = _forget(old)
        ops += [Put(_DUE + new.due_key, b""), Put(_IDS + new.lease_id, new.to_json())]
        # A moved token lease is indexed even so: its id no longer follows from the token's path.
        if new.token_hash:
            ops.append(Put(_token_key(new, digest), new.lease_id.encode()))
        await self._root.batch(ops)

    async def due_batches(self) -> AsyncIterator[list[str]]:
        """The due index a listing at a time (start-up): the names from before the buckets, then each
        bucket's; read them with parse_due()."""
        top = await self._root.list(_DUE)
        yield [name for name in top if not name.endswith("/")]
        for folder in top:
            if folder.endswith("/"):
                yield await self._root.list(_DUE + folder)

    async def due(self) -> list[Due]:
        """Every lease's id and due time."""
        return [found async for names in self.due_batches() for found in parse_due(names)]

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
    digest = _digest(entry.lease_id)
    name = _due_name(entry, digest)
    if entry.due_key != name:
        if entry.due_key:
            ops.append(Delete(_DUE + entry.due_key))
        ops.append(Put(_DUE + name, b""))
        entry.due_key = name
    ops.append(Put(_IDS + entry.lease_id, entry.to_json()))
    if entry.token_hash and entry.kind != TOKEN:
        ops.append(Put(_token_key(entry, digest), entry.lease_id.encode()))
    return ops


def _forget(entry: LeaseEntry) -> list[BatchOp]:
    ops: list[BatchOp] = [Delete(_IDS + entry.lease_id)]
    if entry.due_key:
        ops.append(Delete(_DUE + entry.due_key))
    if entry.token_hash:
        ops.append(Delete(_token_key(entry, _digest(entry.lease_id))))
    return ops
