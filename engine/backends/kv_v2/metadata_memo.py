"""Parsed key metadata for the read path, reused while the stored bytes are unchanged.

Every data/ read decodes its key's metadata (JSON plus a datetime per version). The memo skips that
decode, never the storage read: each request still reads and decrypts the metadata through the barrier,
and a parse is reused only when the bytes it read are *equal* to the ones the parse came from. A write
from any path, process or node changes the bytes and so the parse; nothing here can go stale.

Parses are shared between requests, so they are for reading only: anything that changes metadata
(writes, deletes, metadata updates) takes its own copy with KvStore.metadata(). A data write also
leaves the metadata it wrote here, next to the bytes it wrote, so the next write to the key copies
instead of parsing.
"""

from __future__ import annotations

from collections import OrderedDict

from engine.backends.kv_v2.records import KeyMetadata

DEFAULT_CAPACITY = 1_000


class MetadataMemo:
    """A bounded memo of storage key -> (the plaintext bytes, the metadata parsed from them)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._parsed: OrderedDict[str, tuple[bytes, KeyMetadata]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._parsed)

    def shared(self, key: str, raw: bytes) -> KeyMetadata:
        """The metadata stored as `raw`: shared with other readers, so never to be changed."""
        remembered = self._parsed.get(key)
        if remembered is not None and remembered[0] == raw:
            self._parsed.move_to_end(key)
            return remembered[1]
        meta = KeyMetadata.from_json_bytes(raw)
        self._parsed[key] = (raw, meta)
        self._parsed.move_to_end(key)
        if len(self._parsed) > self._capacity:
            self._parsed.popitem(last=False)
        return meta

    def remember(self, key: str, raw: bytes, meta: KeyMetadata) -> None:
        """`meta` is what `raw` (just written) parses to: shared from now on, so never to be changed."""
        self._parsed[key] = (raw, meta)
        self._parsed.move_to_end(key)
        if len(self._parsed) > self._capacity:
            self._parsed.popitem(last=False)

    def forget(self, key: str) -> None:
        self._parsed.pop(key, None)
