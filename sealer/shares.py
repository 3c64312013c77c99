"""Unseal and recovery shares as people handle them: Vault's hex or base64 text."""

from __future__ import annotations

import base64
import binascii
import re

from engine.errors import BadRequest

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def decode_share(text: str) -> bytes:
    """Accept a share as hex (Vault's `keys`) or base64 (`keys_base64`)."""
    text = text.strip()
    if not text:
        raise BadRequest("'key' must be a valid hex or base64 string; it was empty")
    if _HEX.match(text) and len(text) % 2 == 0:
        return bytes.fromhex(text)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("'key' must be a valid hex or base64 string") from None


def encode_shares(shares: list[bytes]) -> tuple[list[str], list[str]]:
    return [s.hex() for s in shares], [base64.b64encode(s).decode() for s in shares]
