"""The PKCS#11 keys process: its own session on the seal's token, serving transit's in-token keys
(the TokenKeys protocol: hsm/token_keys.py's operations) to the daemon over a socket (keys_process.py says why).

One thread, no event loop: it reads a batch of calls (the daemon sends those that came while the last
batch ran as one message), makes them one after the other on its connection to the token, and answers
the batch in one message, with the log records the calls produced. The PKCS#11 calls are
the only work here, so nothing waits for the GIL. A call that hangs in the module hangs the process; the
daemon's call timeout kills it.

It opens the token on the first call and keeps the session, reconnecting as every Connection does; if the
token cannot be opened, that call gets the reason and the next one tries again, so a token that is away
costs each call one attempt, not a new process. It runs as a batch task, so that its wake-ups never
preempt the daemon's event loop.

Interrupts and terminate signals sent to the whole process group are ignored: the daemon decides when this
process stops, by closing the socket (also what a daemon killed outright leaves). Then the session is
closed and the process exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

from hsm.connection import Connection
from hsm.errors import HsmError
from hsm.module import Module
from hsm.process_messages import BATCH, CALL, DONE, ERROR, FORGET, OPEN, READY, RESULT, encode, take_complete
from hsm.settings import Pkcs11Settings
from hsm.token_keys import operation

_RECEIVE_BYTES = 256 * 1024


def main(argv: list[str]) -> int:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    with contextlib.suppress(AttributeError, OSError):  # not Linux
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    (descriptor,) = argv
    records: list[tuple[Any, ...]] = []
    logging.getLogger().addHandler(_Collect(records))
    logging.getLogger().setLevel(logging.INFO)
    with socket.socket(fileno=int(descriptor)) as channel:
        token = _Token()
        try:
            channel.sendall(encode((READY,)))
            for batch in _batches(channel):
                outcomes = [outcome for request in batch if (outcome := token.answer(request)) is not None]
                channel.sendall(encode((DONE, outcomes, records[:])))
                records.clear()
        finally:
            token.close()
    return 0


class _Token:
    """The connection to the token, opened on the first call."""

    def __init__(self) -> None:
        self._settings: Pkcs11Settings | None = None
        self._module: Module | None = None
        self._connection: Connection | None = None

    def answer(self, message: tuple[Any, ...]) -> tuple[Any, ...] | None:
        kind = message[0]
        if kind == OPEN:
            self._settings = Pkcs11Settings(**message[1])
        elif kind == FORGET:
            if self._connection is not None:
                self._connection.forget_key_handles()
        elif kind == CALL:
            _, call_id, method, args = message
            try:
                op, read_write = operation(method, args)
                return RESULT, call_id, self._connected().in_session(op, read_write)
            except HsmError as exc:
                return ERROR, call_id, type(exc).__name__, exc.message
            except Exception as exc:  # a bug here must reach the caller, not leave it waiting
                return ERROR, call_id, "HsmError", f"{type(exc).__name__}: {exc}"
        return None

    def _connected(self) -> Connection:
        if self._connection is not None:
            return self._connection
        if self._settings is None:
            raise HsmError("the PKCS#11 keys process was not told which token to open")
        if self._module is None:
            self._module = Module.acquire(self._settings.lib)
        connection = Connection(self._module, self._settings)
        connection.open(self._module.load())
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._module is not None:
            unloading = self._module.release()
            if unloading is not None:
                with contextlib.suppress(Exception):
                    unloading.result(timeout=10)


def _batches(channel: socket.socket) -> Iterator[list[tuple[Any, ...]]]:
    """The requests of each batch the daemon sends, until it closes the socket."""
    buffer = bytearray()
    while True:
        chunk = channel.recv(_RECEIVE_BYTES)
        if not chunk:
            return
        buffer += chunk
        for message in take_complete(buffer):
            if message[0] == BATCH:
                yield message[1]


class _Collect(logging.Handler):
    """Log records, kept to go to the daemon with the next answer (it logs them as its own)."""

    def __init__(self, records: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append((record.levelno, record.name, record.getMessage()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
