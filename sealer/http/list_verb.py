"""Vault's LIST verb over aiohttp, on aiohttp's C parser.

aiohttp's C parser (llhttp) refuses request methods outside its built-in list, and LIST is not on it, so
`hvac` and `curl -X LIST` would get a 400 before any handler runs. aiohttp's pure-Python parser accepts
any method but costs about a twentieth of a cached read. So each connection gets a `ListAwareParser`:

- it frames the byte stream itself, just enough to know where each request starts: the header block up
  to its blank line (held back until complete, which llhttp would wait for anyway), then exactly
  Content-Length body bytes;
- a request whose method is LIST reaches llhttp spelled LOCK (a method llhttp knows and Vault has no
  use for), and its parsed message gets LIST back; a real LOCK request stays LOCK (and is refused);
- anything outside the simple shape it frames (Transfer-Encoding, Upgrade, a repeated or odd
  Content-Length, a header block ended by a bare-LF blank line, an empty line before the request line,
  a method beyond the usual ones, a header block over 64 KiB) hands the rest of the connection, from
  that request's first byte, to the pure-Python parser, which is what served every request before.
  llhttp is then between requests, having parsed all it was given (it is made without its pipelining
  pause, so it keeps no unparsed tail).

Installed process-wide by nature: aiohttp picks the parser class from a module global per connection.
"""

from __future__ import annotations

from typing import Any

from aiohttp import http_parser, web_protocol

_C_PARSER: Any = getattr(http_parser, "HttpRequestParserC", None)
_PY_PARSER: Any = http_parser.HttpRequestParserPy
_LIST, _STAND_IN = b"LIST", b"LOCK"
_SIMPLE_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", _LIST})
_MAX_HEAD = 64 * 1024
_CONTENT_LENGTH = b"\r\ncontent-length:"
_TRANSFER_ENCODING, _UPGRADE = b"\r\ntransfer-encoding:", b"\r\nupgrade:"  # left to the Python parser
_NOTHING: tuple[tuple[Any, ...], bool, bytes] = ((), False, b"")


def _framing(head: bytes) -> tuple[bool, int] | None:
    """(is a LIST, body length) of a complete header block, or None when it is not the simple kind."""
    method = head[: head.find(b" ")]
    if method not in _SIMPLE_METHODS:
        return None
    # (A bare CR or LF inside the block is left to llhttp, which refuses it: its lines are CRLF only.)
    lower = head.lower()  # header names are case-insensitive
    if _TRANSFER_ENCODING in lower or _UPGRADE in lower:
        return None
    at = lower.find(_CONTENT_LENGTH)
    if at < 0:
        return method == _LIST, 0
    start = at + len(_CONTENT_LENGTH)
    value = head[start : head.index(b"\r\n", start)].strip(b" \t")
    if not value.isdigit() or lower.find(_CONTENT_LENGTH, start) >= 0:
        return None  # not a plain number, or a second Content-Length
    return method == _LIST, int(value)


class ListAwareParser:
    """aiohttp's request parser interface (feed_data, feed_eof, and the rest delegated), llhttp inside."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        self._c = _C_PARSER(*args, **{**kwargs, "max_msg_queue_size": 0})
        self._py: Any = None
        self._held = b""  # the start of a request whose header block is not complete yet
        self._body_left = 0  # body bytes of the current request llhttp still has to get

    def __getattr__(self, name: str) -> Any:
        return getattr(self._py if self._py is not None else self._c, name)

    def feed_data(self, data: bytes) -> tuple[Any, bool, bytes]:
        if self._py is not None:
            return self._py.feed_data(data)
        if not self._held and not self._body_left and not data.startswith((b"\r", b"\n")):
            # The usual read: exactly one whole request.
            end = data.find(b"\r\n\r\n")
            framing = _framing(data[: end + 4]) if end >= 0 else None
            if framing is not None and framing[1] == len(data) - end - 4:
                if not framing[0]:
                    return self._c.feed_data(data)  # type: ignore[no-any-return]
                return self._relabelled(self._c.feed_data(_STAND_IN + data[4:]), [True])
        return self._feed_framed(data)

    def _feed_framed(self, data: bytes) -> tuple[Any, bool, bytes]:
        pieces: list[bytes] = []
        lists: list[bool] = []  # per request framed in this call, in order
        pos, size = 0, len(data)
        while pos < size:
            if self._body_left:
                taken = min(self._body_left, size - pos)
                pieces.append(data[pos : pos + taken])
                self._body_left -= taken
                pos += taken
                continue
            held = len(self._held)
            buffer = self._held + data[pos:] if held else data[pos:]
            end = buffer.find(b"\r\n\r\n")
            # Still no blank line: wait for the rest, unless it already ended with a bare-LF one (a lenient
            # client), which only the Python parser would take.
            if end < 0 and len(buffer) <= _MAX_HEAD and b"\n\n" not in buffer and b"\n\r\n" not in buffer:
                self._held = buffer
                break
            framing = _framing(buffer[: end + 4]) if end >= 0 and not buffer.startswith((b"\r", b"\n")) else None
            if framing is None:
                self._held = b""
                return self._fall_back(pieces, lists, buffer)
            is_list, self._body_left = framing
            pieces.append(_STAND_IN + buffer[4 : end + 4] if is_list else buffer[: end + 4])
            lists.append(is_list)
            self._held = b""
            pos += end + 4 - held
        if not pieces:
            return _NOTHING
        return self._relabelled(self._c.feed_data(b"".join(pieces)), lists)

    def _fall_back(self, pieces: list[bytes], lists: list[bool], rest: bytes) -> tuple[Any, bool, bytes]:
        before: tuple[Any, ...] = ()
        if pieces:
            before = tuple(self._relabelled(self._c.feed_data(b"".join(pieces)), lists)[0])
        self._py = _PY_PARSER(*self._args, **self._kwargs)
        messages, upgraded, tail = self._py.feed_data(rest)
        return [*before, *messages], upgraded, tail

    @staticmethod
    def _relabelled(result: tuple[Any, bool, bytes], lists: list[bool]) -> tuple[Any, bool, bytes]:
        messages, upgraded, tail = result
        if True not in lists:
            return result
        # llhttp emits one message per complete header block, in order: exactly the requests framed here.
        relabelled = [
            (message._replace(method="LIST"), payload) if is_list and message.method == "LOCK" else (message, payload)
            for (message, payload), is_list in zip(messages, lists, strict=False)
        ]
        return relabelled, upgraded, tail

    def feed_eof(self) -> Any:
        return (self._py if self._py is not None else self._c).feed_eof()


def accept_list_verb() -> None:
    if _C_PARSER is None:  # aiohttp without its C extensions (AIOHTTP_NO_EXTENSIONS): Python parser only
        web_protocol.HttpRequestParser = _PY_PARSER  # type: ignore[misc]
    else:
        web_protocol.HttpRequestParser = ListAwareParser  # type: ignore[misc]
