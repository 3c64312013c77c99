"""MACs and comparisons that do not leak timing."""

from __future__ import annotations

import hmac
from typing import Any


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    # Not hmac.digest(): its one-shot OpenSSL call lets go of the GIL, and with another thread waiting for
    # it (the pkcs11 worker) each MAC took up to a switch interval (3.8 us alone, 3.8 ms against a busy
    # thread). hmac.new keeps the GIL for inputs under 2 KiB and costs the same alone. The digest is named,
    # not hashlib.sha256 passed, so OpenSSL's HMAC is used without a Python constructor call.
    return hmac.new(key, data, "sha256").digest()


class HmacSha256:
    """HMAC-SHA256 under one key, the key set up once: each MAC then starts from a copy of the keyed
    state (an audit line's chain MAC took twice as long with the key set up per call)."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        keyed = hmac.new(key, digestmod="sha256")
        # CPython keeps OpenSSL's HMAC object inside the wrapper; copying that one skips the wrapper's
        # Python-level copy (a fifth of a short string's MAC). Any other build copies the wrapper.
        self._keyed: Any = getattr(keyed, "_hmac", None) or keyed

    def __repr__(self) -> str:
        return "HmacSha256(<key>)"

    def digest(self, data: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(data)
        return mac.digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
