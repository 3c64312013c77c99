"""MACs and comparisons that do not leak timing."""

from __future__ import annotations

import hmac


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    # The digest named, not hashlib.sha256 passed: OpenSSL's one-shot HMAC is then used without a Python
    # constructor call (a fifth faster on every token lookup and audit line).
    return hmac.digest(key, data, "sha256")


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
