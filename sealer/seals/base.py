"""What every seal offers the seal manager: a way to protect the root key at rest.

A seal wraps and unwraps small secrets (the root key, the recovery key) and derives the key that
protects the barrier's keyring from the root key. The shamir seal does this with a key rebuilt from
unseal shares; the pkcs11 seal does it inside a PKCS#11 token, so it can unseal on its own.
"""

from __future__ import annotations

from typing import Protocol


class SealUnavailable(Exception):
    """The seal's device cannot be used right now (wrong PIN, token missing, ...); the message says why."""


class SealKeyInvalid(Exception):
    """The material offered to the seal does not open what it protects."""


class Seal(Protocol):
    type: str
    # True when the seal can unseal without people: shares given at init are then recovery shares.
    auto_unseal: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def wrap(self, secret: bytes, aad: bytes, unseal_key: bytes | None) -> bytes: ...

    async def unwrap(self, blob: bytes, aad: bytes, unseal_key: bytes | None) -> bytes: ...

    async def barrier_key(self, root_key: bytes, installation_id: bytes) -> bytes: ...

    def describe(self) -> dict[str, str]: ...
