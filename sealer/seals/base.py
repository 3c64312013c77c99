"""What every seal offers the seal manager: a way to protect the root key at rest.

A seal wraps and unwraps the root key. The shamir seal does this with a key rebuilt from unseal
shares; the pkcs11 seal does it with the keys of PKCS#11 tokens, so it can unseal on its own. Deriving the
barrier key from the root key is the same for every seal (see sealer/seals/envelopes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
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

    def describe(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class SealOptions:
    """How the seal manager looks after the seal's keys (configuration `seal.break_glass`, ...)."""

    # Keep the root key also under a key derived from the recovery key, so that a threshold of recovery
    # shares can unseal when every token is lost. Off by default: recovery shares only authorise.
    break_glass: bool = False
    # Seconds between checks of every token while unsealed (health, and wrapping a returning token).
    health_check_interval: float = 60.0
