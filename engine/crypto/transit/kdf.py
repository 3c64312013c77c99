"""Transit's two key derivations from a key version and a caller's context (Vault's keysutil.DeriveKey):
HKDF-SHA256 for keys made since Vault 0.6.2, and NIST SP 800-108 counter mode with HMAC-SHA256 for older
ones (still found in restored backups)."""

from __future__ import annotations

import hmac
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf_sha256(key: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 without salt, `info` = the context, as golang.org/x/crypto/hkdf.New(sha256, key, nil, info)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(key)


def counter_mode_hmac_sha256(key: bytes, context: bytes, bits: int = 256) -> bytes:
    """Vault's sdk/helper/kdf.CounterMode with HMACSHA256PRF: rounds of HMAC(key, i32 || context || bits32),
    the counter starting at 0."""
    rounds = -(-bits // 256)
    out = b"".join(
        hmac.digest(key, i.to_bytes(4, "big") + context + bits.to_bytes(4, "big"), sha256) for i in range(rounds)
    )
    return out[: bits // 8]
