"""Randomness for key material: always the OS CSPRNG, never the `random` module."""

from __future__ import annotations

import secrets
import string

KEY_SIZE = 32

_BASE62 = (string.ascii_uppercase + string.ascii_lowercase + string.digits).encode()
# Byte b becomes character b % 62; bytes from 248 up (256 - 256 % 62) are dropped, so that the 62 characters
# are equally likely. translate() does both in C: per character in Python, a token create spent ~20 us here.
_TO_BASE62 = bytes(_BASE62[byte % 62] for byte in range(256))
_BIASED = bytes(range(256 - 256 % 62, 256))


def random_bytes(n: int) -> bytes:
    if n < 0:
        raise ValueError("cannot produce a negative number of bytes")
    return secrets.token_bytes(n)


def new_key() -> bytes:
    """A fresh 256-bit key."""
    return secrets.token_bytes(KEY_SIZE)


def random_base62(length: int) -> str:
    """`length` characters drawn uniformly from [A-Za-z0-9] (Vault's base62.Random: tokens, accessors,
    lease ids)."""
    drawn = b""
    while len(drawn) < length:
        drawn += secrets.token_bytes(length + 8).translate(_TO_BASE62, _BIASED)
    return drawn[:length].decode("ascii")
