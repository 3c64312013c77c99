"""The shamir seal: the root key is wrapped by an unseal key that exists only as shares held by people."""

from __future__ import annotations

from engine.crypto import aead, kdf
from sealer.seals.base import SealKeyInvalid

BARRIER_KEY_INFO = b"sealer barrier key v1"


class ShamirSeal:
    type = "shamir"
    auto_unseal = False

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def wrap(self, secret: bytes, aad: bytes, unseal_key: bytes | None) -> bytes:
        if unseal_key is None:
            raise SealKeyInvalid("the shamir seal needs the unseal key")
        return aead.encrypt(unseal_key, secret, aad)

    async def unwrap(self, blob: bytes, aad: bytes, unseal_key: bytes | None) -> bytes:
        if unseal_key is None:
            raise SealKeyInvalid("the shamir seal needs the unseal key")
        try:
            return aead.decrypt(unseal_key, blob, aad)
        except aead.DecryptError:
            raise SealKeyInvalid("the unseal key is not the one this installation was initialised with") from None

    async def barrier_key(self, root_key: bytes, installation_id: bytes) -> bytes:
        return kdf.derive_key(root_key, salt=installation_id, info=BARRIER_KEY_INFO)

    def describe(self) -> dict[str, str]:
        return {"type": self.type}
