"""One enabled audit device: its sink, its hashing and its chain. Lines are written one at a time
(a lock), each chained to the one before; the first line after the sink is (re)opened is a
"chain-start" line, so a rotated file begins by linking to the last line of the old one.

Where the chain stands must survive a restart, so that the chain-start line written then links to the
last line really written before. How depends on whether the sink can read back what it wrote:

- A file can: the file is the record. At start the device reads its last complete line, checks the
  line's MAC with the chain key and goes on from it. The position kept in storage is only a lower
  bound, for a file that holds nothing newer (rotated away, removed): so no response waits for a
  storage write (waiting for one, an fsync per group of responses, cost a KV read about half its
  throughput). The position is saved in the background, at most once per SAVE_INTERVAL, and before
  the device reopens or closes. A kill -9 loses no line the kernel took, and every line is handed to
  the kernel before its response leaves, so after one the chain-start links to the file's last line;
  a write that a crash cut short leaves bytes with no newline, which the device cuts off (they are no
  line, and nothing was answered on them) when the whole line before them is its own.
  One gap: when the file holds nothing newer (renamed away by logrotate and the daemon killed before
  the SIGHUP that follows; or an HA standby taking over after the active was killed, its own file
  being another), the chain-start links to the stored position, which may lag the last line really
  written by up to SAVE_INTERVAL of lines: verifying the two files together reports those as repeated.
- A socket or syslog (or stdout) cannot: the stored position is the only record, so it is stored
  before a response leaves, as a group: the response line's writer waits until a save covering its
  line (and so the request line before it) is done, and one save covers every line written before it
  started. Under concurrency that is one durable storage write per group of requests, and lines are
  never held up behind a storage write. (A request line alone needs no save of its own: its
  response's save covers it before anything is answered.)"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from engine.audit.chain import ChainState, check_line, seal_line
from engine.audit.entry import Hasher, rfc3339_nano
from engine.audit.sink import AuditSink, ReadBackSink
from engine.audit.table import AuditEntry, save_chain
from engine.storage.base import Storage

log = logging.getLogger("engine.audit")

# How far behind the file a stored chain position may fall (file devices only; see above).
SAVE_INTERVAL = 1.0

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
        self._reads_back = sink if isinstance(sink, ReadBackSink) and sink.reads_back else None
        # Whether the file's end has been looked at since the device began (or its last failed write).
        self._caught_up = False
        self._background_save: asyncio.Task[None] | None = None
        self._last_background_save = 0.0

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
        if not persist:
            return
        if self._reads_back is None:
            await self._persist(written)
        else:
            self._save_in_background()

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
        if self._background_save is not None:
            await self._background_save
        # Exact on a clean stop: a file rotated away while the daemon is down is continued from here.
        await self._persist(self._state.seq)

    def _chain_start(self) -> dict[str, Any]:
        return {"type": "chain-start", "time": rfc3339_nano(), "device_path": self.entry.path}

    async def _emit(self, entry: dict[str, Any]) -> None:
        if not self._caught_up and self._reads_back is not None:
            await self._catch_up(self._reads_back)
        state = self._state
        line, mac = seal_line(entry, state.seq, state.prev, self.entry.chain_key)
        try:
            await self.sink.write(self._prefix + line)
        except BaseException:
            self._caught_up = False  # the line may be in the file in part: look at its end again
            raise
        state.seq, state.prev = state.seq + 1, mac

    async def _catch_up(self, sink: ReadBackSink) -> None:
        """Go on from the file's last line when it is this device's and at least as new as the stored
        position, cutting off what a crash left of a line after it."""
        # A file that cannot be read back (or repaired) still takes lines: the stored position is used.
        try:
            tail = await sink.tail()
            found = self._own_line(tail.last_line) if tail.last_line is not None else None
            if found is not None and found[0] + 1 >= self._state.seq:
                seq, mac = found
                if seq + 1 > self._state.seq:
                    log.info("audit device %s: continuing its chain from the file's last line (seq %d)",
                             self.entry.path, seq)
                self._state.seq, self._state.prev = seq + 1, mac
                if tail.incomplete:
                    await sink.cut_incomplete(tail)
        except OSError as exc:
            log.warning("audit device %s: could not read back the end of its file: %s", self.entry.path, exc)
        self._caught_up = True

    def _own_line(self, raw: bytes) -> tuple[int, str] | None:
        """(seq, mac) of a line this device wrote, else None."""
        line = raw.rstrip(b"\n")
        if not line.startswith(self._prefix):
            return None
        try:
            entry = json.loads(line[len(self._prefix):])
        except ValueError:
            return None
        checked = check_line(entry, self.entry.chain_key) if isinstance(entry, dict) else None
        return None if checked is None else (checked[0], checked[2])

    def _save_in_background(self) -> None:
        """Start a save of the chain position unless one is running or one started too recently."""
        if self._background_save is not None or self._saved_seq >= self._state.seq:
            return
        now = time.monotonic()
        if now - self._last_background_save < SAVE_INTERVAL:
            return
        self._last_background_save = now
        self._background_save = asyncio.get_running_loop().create_task(self._save_now())

    async def _save_now(self) -> None:
        try:
            await self._persist(self._state.seq)
        finally:
            self._background_save = None

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
