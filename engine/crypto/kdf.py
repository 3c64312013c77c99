"""Key derivation: HKDF-SHA256 (RFC 5869)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: bytes, *, info: bytes, salt: bytes = b"", length: int = 32) -> bytes:
    """Derive `length` bytes bound to `info` (the purpose) from `secret`.

    An empty salt is RFC 5869's "not provided" (a hash-length string of zeros).
    """
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(secret)
