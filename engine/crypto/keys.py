"""Randomness for key material: always the OS CSPRNG, never the `random` module."""

from __future__ import annotations

import secrets

KEY_SIZE = 32


def random_bytes(n: int) -> bytes:
    if n < 0:
        raise ValueError("cannot produce a negative number of bytes")
    return secrets.token_bytes(n)


def new_key() -> bytes:
    """A fresh 256-bit key."""
    return secrets.token_bytes(KEY_SIZE)
