"""The AEAD ciphers of transit's symmetric keys: AES-GCM (128 or 256) and ChaCha20-Poly1305, each with a
96-bit nonce and a 128-bit tag appended to the ciphertext, as Go's cipher.AEAD Seal produces them."""

from __future__ import annotations

import enum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

NONCE_SIZE = 12
TAG_SIZE = 16


class Cipher(enum.Enum):
    AES_GCM = "aes-gcm"
    CHACHA20_POLY1305 = "chacha20-poly1305"


# Go's messages for a failed Open, which Vault hands to clients as they are.
_OPEN_FAILED = {
    Cipher.AES_GCM: "cipher: message authentication failed",
    Cipher.CHACHA20_POLY1305: "chacha20poly1305: message authentication failed",
}


class AuthenticationFailed(Exception):
    """The ciphertext, nonce, key or associated data is not the one sealed: opaque on purpose."""


def _aead(cipher: Cipher, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return AESGCM(key) if cipher is Cipher.AES_GCM else ChaCha20Poly1305(key)


def aead_seal(cipher: Cipher, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """ciphertext || tag. The nonce must be NONCE_SIZE bytes and never repeat under one key."""
    return _aead(cipher, key).encrypt(nonce, plaintext, aad or None)


def aead_open(cipher: Cipher, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Reverse aead_seal; AuthenticationFailed (with Go's message) for any mismatch."""
    try:
        return _aead(cipher, key).decrypt(nonce, sealed, aad or None)
    except (InvalidTag, ValueError) as exc:
        raise AuthenticationFailed(_OPEN_FAILED[cipher]) from exc
