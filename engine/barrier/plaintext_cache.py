"""The barrier's cache of decrypted values, so a hot key costs no AES-GCM decryption per read (a cached
KV read decrypted its metadata and its data: a sixth of its time in the core).

Correctness rests on the barrier being the only way to its keys while it is unsealed: every write
passes through it and drops the key from here before it starts and again once it is done, and a read
keeps what it decrypted only if no write (nor a clear) happened while it was in flight. So the next read
after any acknowledged write sees that write. Another daemon sharing the storage can write only while
it holds the HA lock; this one re-reads its keyring before it serves again, which clears the cache.

It holds plaintext in process memory (as the token entry cache does) only while the barrier is
unsealed: seal() clears it. Big values are not kept (a few of them would push everything else out),
and the whole is bounded in bytes as well as in count.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

MAX_ENTRIES = 20_000
MAX_BYTES = 32 * 1024 * 1024
MAX_VALUE_BYTES = 64 * 1024


class PlaintextCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._values: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        # Bumped by every write and clear: a read that saw it change keeps nothing.
        self.epoch = 0

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str) -> bytes | None:
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def keep(self, key: str, value: bytes, epoch: int) -> None:
        """Remember `value` as read at `epoch` (the epoch before the read began)."""
        if epoch != self.epoch or len(value) > MAX_VALUE_BYTES:
            return
        values = self._values
        earlier = values.pop(key, None)
        if earlier is not None:
            self._bytes -= len(earlier)
        values[key] = value
        self._bytes += len(value)
        while len(values) > self._max_entries or self._bytes > self._max_bytes:
            self._bytes -= len(values.popitem(last=False)[1])

    @contextmanager
    def writing(self, keys: Sequence[str]) -> Iterator[None]:
        """Around a write of `keys`: dropped before it starts and again once it is over (whatever the
        outcome), and no read in flight meanwhile keeps what it read."""
        self.forget(keys)
        try:
            yield
        finally:
            self.forget(keys)

    def forget(self, keys: Iterable[str]) -> None:
        self.epoch += 1
        for key in keys:
            value = self._values.pop(key, None)
            if value is not None:
                self._bytes -= len(value)

    def clear(self) -> None:
        self.epoch += 1
        self._values.clear()
        self._bytes = 0
