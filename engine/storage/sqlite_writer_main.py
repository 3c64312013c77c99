"""The SQLite writer process: owns the one writing connection and commits groups of writes.

Why a process and not a thread: a writer thread shares the daemon's GIL, and every statement it runs
releases and retakes it; each retake made the event loop wait at its next socket send or random read,
which cost more than the writes themselves (event-loop CPU per KV write 481 us over memory storage, 645 us
over SQLite with the thread).
In its own process the writer has its own interpreter, and the loop only sends and receives on a socket.

It reads each message of writes from its socket (the storage sends those that came while the last
group was committed as one message), commits them as one group (sqlite_group.py), and answers
with each write's outcome once the COMMIT (and its fsync) is done. Its second thread checkpoints the
WAL into the file meanwhile (sqlite_checkpointer.py), so no commit waits for a checkpoint. It stops at
end of input, which is what the daemon's close sends, and also what a daemon killed outright leaves:
the commit in hand is finished, nothing new is started. Interrupts and terminate signals sent to the
whole process group are ignored: the daemon decides when its storage closes, and closes it last.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

from engine.storage.sqlite_checkpointer import Checkpointer
from engine.storage.sqlite_file import describe, open_writer
from engine.storage.sqlite_group import GroupCommitter, Row
from engine.storage.sqlite_messages import DONE, FAILED, READY, WRITE, encode, take_complete

_RECEIVE_BYTES = 256 * 1024


def main(argv: list[str]) -> int:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    _no_wakeup_preemption()
    descriptor, path, *pragmas = argv
    with socket.socket(fileno=int(descriptor)) as channel:
        try:
            connection = open_writer(path, pragmas)
        except Exception as exc:
            channel.sendall(encode((FAILED, describe(exc))))
            return 1
        try:
            settings = {
                name: connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "synchronous")
            }
            channel.sendall(encode((READY, settings)))
            committer = GroupCommitter(connection)
            checkpointer = Checkpointer(path, connection)
            try:
                for writes in _groups(channel):
                    outcomes = [None if outcome is None else describe(outcome) for outcome in committer.commit(writes)]
                    channel.sendall(encode((DONE, outcomes, committer.commits)))
                    checkpointer.committed()
            finally:
                checkpointer.close()
        finally:
            # The last connection to close checkpoints the WAL into the file.
            connection.close()
    return 0


def _no_wakeup_preemption() -> None:
    """Each write the daemon sends wakes this process; as a normal task it would often take the CPU from
    the event loop right then, in the middle of its send, and hold it for the commit's CPU work. A batch
    task runs as soon as a CPU is free, but never preempts on waking."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _groups(channel: socket.socket) -> Iterator[list[list[Row]]]:
    """Each message's writes, as a group. The storage has one message in flight at a time (the writes
    that came meanwhile wait for its answer), so there is never a second one to merge with."""
    buffer = bytearray()
    while True:
        messages: list[tuple[Any, ...]] = []
        while not messages:
            chunk = channel.recv(_RECEIVE_BYTES)
            if not chunk:
                return
            buffer += chunk
            messages = take_complete(buffer)
        yield [rows for kind, writes in messages if kind == WRITE for rows in writes]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
