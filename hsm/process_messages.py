"""Messages between the daemon and its PKCS#11 keys process (keys_process.py), over a socket pair: each a
marshal'd tuple after its length. marshal is enough: both ends are this code, and every value is a str,
bytes, bool, int, None, or a tuple, list or dict of them.

Each way, one message per batch. The daemon sends a batch only when the last one is answered (the calls
made meanwhile wait for it), so the process never has two to merge:

    daemon -> process:  ("batch", [request, ...]), a request being
                            ("open", settings)          first of all: the Pkcs11Settings fields
                            ("call", id, method, args)  one TokenKeys method (keys_process_main.operation)
                            ("forget",)                 forget_found_keys
    process -> daemon:  ("ready",)  once, first, when it is up (before it has opened the token)
                        ("done", [outcome of each call, in order], [log record, ...]), an outcome being
                            ("result", id, value)  or  ("error", id, kind, message)
                        kind: the hsm.errors class raised (else "HsmError"); a log record: (level, logger, message)
"""

from __future__ import annotations

import marshal
import struct
from typing import Any

BATCH, OPEN, CALL, FORGET = "batch", "open", "call", "forget"
READY, DONE, RESULT, ERROR = "ready", "done", "result", "error"

_LENGTH = struct.Struct(">I")


def encode(message: tuple[Any, ...]) -> bytes:
    body = marshal.dumps(message)
    return _LENGTH.pack(len(body)) + body


def take_complete(buffer: bytearray) -> list[tuple[Any, ...]]:
    """The complete messages at the start of `buffer`, removed from it (a partial one stays)."""
    messages = []
    start = 0
    while len(buffer) - start >= _LENGTH.size:
        (length,) = _LENGTH.unpack_from(buffer, start)
        end = start + _LENGTH.size + length
        if end > len(buffer):
            break
        messages.append(marshal.loads(memoryview(buffer)[start + _LENGTH.size : end]))
        start = end
    del buffer[:start]
    return messages
