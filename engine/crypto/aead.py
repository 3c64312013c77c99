"""AES-256-GCM with a fresh random nonce per message: the one recipe everything behind the barrier uses."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE


class DecryptError(Exception):
    """A blob did not decrypt. Opaque on purpose: a short blob, bad tag, wrong key or wrong AAD look alike."""

    def __init__(self) -> None:
        super().__init__("message authentication failed")


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Return nonce || ciphertext || tag."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256-GCM needs a {KEY_SIZE}-byte key")
    # Random 96-bit nonces are safe up to ~2^32 messages per key; barrier keys rotate by term long before.
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Reverse `encrypt`; raise DecryptError for any failure at all."""
    if len(key) != KEY_SIZE or len(blob) < OVERHEAD:
        raise DecryptError()
    try:
        return AESGCM(key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except (InvalidTag, ValueError, TypeError) as exc:
        raise DecryptError() from exc
