"""The shamir seal: the root key is wrapped by an unseal key that exists only as shares held by people."""

from __future__ import annotations


class ShamirSeal:
    type = "shamir"
    auto_unseal = False

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def describe(self) -> dict[str, str]:
        return {"type": self.type}
