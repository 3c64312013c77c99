"""Checkpoints off the commit path: the writer process's second thread copies committed WAL frames into
the database file while the writer goes on committing.

SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so the group of writes
in that commit waited for it, and so did the next group. Under random keys (token ids, lease ids) a
checkpoint copies ~1,000 scattered pages and syncs the file: 20-30 ms, every tenth commit or so, which was
most of the p99 of writes that create tokens (at 16 concurrent clients, p99 of token create 38 -> 33 ms and
of approle login 44 -> 33 ms with this alone; 37-49 -> 23-37 ms and 47-52 -> 26-30 ms together with the
rowid table of sqlite_file.py).

Here a PASSIVE checkpoint runs on a connection of its own, on its own thread (sqlite3 releases the GIL
while a statement runs), every few commits. A passive checkpoint never blocks the writer: it copies the
frames committed before it started and leaves the rest for the next pass. Frames are only ever copied,
never dropped, so a crash mid-pass loses nothing; SQLite's recovery replays the WAL as it always does.

The WAL file would still grow without end: SQLite starts it over only when a write transaction begins
with every frame already copied, and a writer that commits continuously never sees that moment. So once
the WAL holds `restart_frames` frames and a background pass has just finished, the writer copies the few
frames committed since on its own connection, right after answering its callers: its next transaction
then writes the WAL from the start again. That pass is short (a few commits' frames) and the callers it
could delay are only those of the next group.

A checkpoint that fails (I/O error) is not retried at once, as with SQLite's own: its frames stay in the
WAL, readable and durable, and the next pass tries again. A disk that fails writes fails the commits
themselves, and that is where the daemon hears of it.
"""

from __future__ import annotations

import sqlite3
import threading

from engine.storage.sqlite_file import connect

# A background pass after this many commits: often enough that a pass has little to copy, rarely enough
# that pages written by several commits (the B-tree's upper levels) are copied once.
EVERY_COMMITS = 8
# Start the WAL over once it holds this many frames (32 MiB at 4 KiB pages).
RESTART_FRAMES = 8192

_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    """Owns a thread and a connection; `committed()` after each commit, `close()` before the writer's
    connection is closed (so that connection is the last and folds the WAL into the file)."""

    def __init__(
        self,
        path: str,
        writer: sqlite3.Connection,
        *,
        every_commits: int = EVERY_COMMITS,
        restart_frames: int = RESTART_FRAMES,
    ) -> None:
        self._writer = writer
        self._every_commits = every_commits
        self._restart_frames = restart_frames
        self._connection = connect(path, check_same_thread=False)
        self._connection.execute("PRAGMA synchronous = FULL")
        # Only now that a checkpointer exists may the writer stop checkpointing on its own.
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        self._commits_since_pass = 0
        # Frames in the WAL when the last background pass ran (it read them from SQLite's answer).
        self._wal_frames = 0
        self.passes = 0
        self.restarts = 0
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """After each commit (and after its callers have been answered)."""
        self._commits_since_pass += 1
        if not self._idle.is_set():
            return  # a pass is running: it will take these frames too, or the next one will
        if self._wal_frames >= self._restart_frames:
            self._catch_up_and_restart()
        elif self._commits_since_pass >= self._every_commits:
            self._commits_since_pass = 0
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once no background pass is running (False if `timeout` seconds passed first)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join()
        self._connection.close()

    def _catch_up_and_restart(self) -> None:
        try:
            self._writer.execute(_PASSIVE).fetchone()
        except sqlite3.Error:
            return
        self._wal_frames = 0
        self._commits_since_pass = 0
        self.restarts += 1

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                _busy, wal_frames, _copied = self._connection.execute(_PASSIVE).fetchone()
                self._wal_frames = wal_frames
                self.passes += 1
            except sqlite3.Error:
                pass
            finally:
                self._idle.set()
