"""Shares collected towards one unseal attempt (Vault's progress and nonce)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from engine.crypto import constant_time_equal
from engine.errors import BadRequest


@dataclass
class UnsealProgress:
    shares: list[bytes] = field(default_factory=list, repr=False)
    nonce: str = ""

    @property
    def count(self) -> int:
        return len(self.shares)

    def add(self, share: bytes, expected_length: int) -> None:
        """Record a share; refuses a malformed or repeated one without changing the progress."""
        if len(share) != expected_length:
            raise BadRequest(
                f"the unseal key has the wrong length: expected {expected_length} bytes, got {len(share)}; "
                "progress unchanged"
            )
        if any(constant_time_equal(share, seen) for seen in self.shares):
            raise BadRequest("this unseal key was already provided in this unseal attempt; progress unchanged")
        if not self.shares:
            self.nonce = str(uuid.uuid4())
        self.shares.append(share)

    def reset(self) -> None:
        self.shares = []
        self.nonce = ""
