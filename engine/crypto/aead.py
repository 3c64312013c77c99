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


class Cipher:
    """The recipe under one long-lived key (a barrier term), set up once: building the cipher was as
    costly as the decryption of a small value itself."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"AES-256-GCM needs a {KEY_SIZE}-byte key")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Cipher(AES-256-GCM)"

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Return nonce || ciphertext || tag."""
        # Random 96-bit nonces are safe up to ~2^32 messages per key; barrier keys rotate by term long before.
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Reverse `encrypt`; raise DecryptError for any failure at all."""
        if len(blob) < OVERHEAD:
            raise DecryptError()
        try:
            return self._aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
        except (InvalidTag, ValueError, TypeError) as exc:
            raise DecryptError() from exc


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Return nonce || ciphertext || tag."""
    return Cipher(key).encrypt(plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Reverse `encrypt`; raise DecryptError for any failure at all."""
    if len(key) != KEY_SIZE:
        raise DecryptError()
    return Cipher(key).decrypt(blob, aad)
