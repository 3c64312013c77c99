"""Messages between SQLite storage and its writer process, over a socket pair: each a marshal'd tuple
after its length. marshal is enough: both ends are this code, and the values are str, bytes, None and
lists of them."""

from __future__ import annotations

import marshal
import struct
from typing import Any

# Writer process -> storage, once, when the file is open: ("ready", settings) or ("failed", cause).
READY = "ready"
FAILED = "failed"
# Storage -> writer process: ("write", [rows of each write]). Writer process -> storage, per group:
# ("done", [outcome per write, in order: None or the error as a person reads it], commits so far).
WRITE = "write"
DONE = "done"

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
