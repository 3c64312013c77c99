"""Base64 as Go's encoding/base64 decodes it, with its error messages ("illegal base64 data at input byte
N"), which Vault hands to clients unchanged. Standard alphabet with padding for data, URL-safe without
padding for JWS-marshaled signatures. Carriage returns and newlines are skipped, as in Go."""

from __future__ import annotations

import base64
import binascii
import string

_STD = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
_URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
_STD_MAP = {ord(c): i for i, c in enumerate(_STD)}
_URL_MAP = {ord(c): i for i, c in enumerate(_URL)}
_PAD = ord("=")
_NEWLINES = (ord("\n"), ord("\r"))


class Base64Error(ValueError):
    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def decode(text: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString."""
    raw = text.encode()
    try:
        # Canonical input (alphabet, then at most two '=' completing the last group) decodes the same in
        # both; anything else (newlines, errors) takes the symbol-by-symbol way for Go's exact answer.
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        return _decode(raw, _STD_MAP, padded=True)


def decode_raw_url(text: str) -> bytes:
    """Go's base64.RawURLEncoding.DecodeString."""
    return _decode(text.encode(), _URL_MAP, padded=False)


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode_raw_url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(src: bytes, alphabet: dict[int, int], *, padded: bool) -> bytes:
    out = bytearray()
    si = 0
    while si < len(src):
        si, chunk, error = _quantum(src, si, alphabet, padded)
        out += chunk
        if error is not None:
            raise Base64Error(error)
    return bytes(out)


def _quantum(src: bytes, si: int, alphabet: dict[int, int], padded: bool) -> tuple[int, bytes, int | None]:
    """One group of up to four symbols (Go's decodeQuantum): (next index, bytes, error offset or None)."""
    values = [0, 0, 0, 0]
    length = 4
    error: int | None = None
    j = 0
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, b"", None
            if j == 1 or padded:
                return si, b"", si - j
            length = j
            break
        symbol = src[si]
        si += 1
        if symbol in alphabet:
            values[j] = alphabet[symbol]
            j += 1
            continue
        if symbol in _NEWLINES:
            continue
        if not padded or symbol != _PAD:
            return si, b"", si - 1
        # Padding: it must close the group and the input.
        if j in (0, 1):
            return si, b"", si - 1
        if j == 2:
            while si < len(src) and src[si] in _NEWLINES:
                si += 1
            if si == len(src):
                return si, b"", len(src)
            if src[si] != _PAD:
                return si, b"", si - 1
            si += 1
        while si < len(src) and src[si] in _NEWLINES:
            si += 1
        if si < len(src):
            error = si
        length = j
        break
    value = values[0] << 18 | values[1] << 12 | values[2] << 6 | values[3]
    return si, value.to_bytes(3, "big")[: length - 1], error
