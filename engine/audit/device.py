"""One enabled audit device: its sink, its hashing and its chain. Lines are written one at a time
(a lock), each chained to the one before; the first line after the sink is (re)opened is a
"chain-start" line, so a rotated file begins by linking to the last line of the old one.

The chain position is stored before a response leaves, as a group: the response line's writer waits
until a save covering its line (and so the request line before it) is done, and one save covers every
line written before it started. Under concurrency that is one durable storage write per group of
requests instead of two per request, and lines are never held up behind a storage write. (A request
line alone needs no save of its own: its response's save covers it before anything is answered.)"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.audit.chain import ChainState, seal_line
from engine.audit.entry import Hasher, rfc3339_nano
from engine.audit.sink import AuditSink
from engine.audit.table import AuditEntry, save_chain
from engine.storage.base import Storage

log = logging.getLogger("engine.audit")

_FALSE = ("false", "0", "f", "no")
_TRUE = ("true", "1", "t", "yes")


def option_bool(options: dict[str, str], name: str, default: bool) -> bool:
    raw = str(options.get(name, "")).strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"unable to parse '{name}': {raw!r} is not a boolean")


class AuditDevice:
    def __init__(self, entry: AuditEntry, sink: AuditSink, storage: Storage, state: ChainState) -> None:
        self.entry = entry
        self.sink = sink
        self._storage = storage
        self._state = state
        options = entry.options
        self.hasher = Hasher(
            entry.salt,
            hmac_accessor=option_bool(options, "hmac_accessor", True),
            log_raw=option_bool(options, "log_raw", False),
        )
        self._prefix = options.get("prefix", "").encode()
        self._started = False
        self._lock = asyncio.Lock()
        # The seq of the next line as of the last save that succeeded; saves happen one at a time.
        self._saved_seq = state.seq
        self._save_lock = asyncio.Lock()

    @property
    def path(self) -> str:
        return self.entry.path

    async def log(self, entry: dict[str, Any], *, persist: bool = True) -> None:
        """Write one entry, then (with `persist`) wait until the chain position covering it is stored;
        raises when the sink fails."""
        async with self._lock:
            if not self._started:
                await self._emit(self._chain_start())
                self._started = True
            await self._emit(entry)
            written = self._state.seq
        if persist:
            await self._persist(written)

    async def start(self) -> None:
        """Write the chain-start line now (at enable, unseal and SIGHUP); raises when the sink fails."""
        async with self._lock:
            await self._emit(self._chain_start())
            self._started = True
            written = self._state.seq
        await self._persist(written)

    async def reopen(self) -> None:
        async with self._lock:
            self._started = False
            await self.sink.reopen()

    async def close(self) -> None:
        async with self._lock:
            await self.sink.close()

    def _chain_start(self) -> dict[str, Any]:
        return {"type": "chain-start", "time": rfc3339_nano(), "device_path": self.entry.path}

    async def _emit(self, entry: dict[str, Any]) -> None:
        state = self._state
        line, mac = seal_line(entry, state.seq, state.prev, self.entry.chain_key)
        await self.sink.write(self._prefix + line)
        state.seq, state.prev = state.seq + 1, mac

    async def _persist(self, written: int) -> None:
        """Return once the chain position is stored as of line `written` or later."""
        async with self._save_lock:
            if self._saved_seq >= written:
                return  # a save that started after our line was written covered it
            # A copy: lines written while the save is in flight must not change what it stores.
            snapshot = ChainState(self._state.seq, self._state.prev)
            # The line is out: a storage hiccup here must not turn a logged request into a failed one.
            try:
                await save_chain(self._storage, self.entry, snapshot)
            except Exception as exc:  # reported, and the next line's writer saves again
                log.warning("audit device %s: could not persist its chain position: %s", self.entry.path, exc)
                return
            self._saved_seq = snapshot.seq
