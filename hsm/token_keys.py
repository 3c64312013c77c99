"""The engine's TokenKeys protocol (engine/token_keys.py) over an open Hsm: the transit engine's hsm-* keys
are generated, used and destroyed inside the token, one worker-thread call each.

The Hsm comes from a callable, so that the daemon can hand over the seal's token before it is opened
(and after it reconnects): each call uses whatever Hsm is open at that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from hsm import token_objects
from hsm.errors import HsmDecryptFailed, HsmError
from hsm.hsm import Hsm


class HsmTokenKeys:
    def __init__(self, device: Callable[[], Hsm | None]) -> None:
        self._device = device

    @classmethod
    def over(cls, hsm: Hsm) -> HsmTokenKeys:
        return cls(lambda: hsm)

    def __repr__(self) -> str:
        return f"<HsmTokenKeys {self._device()!r}>"

    def _hsm(self) -> Hsm:
        hsm = self._device()
        if hsm is None:
            raise HsmError("the PKCS#11 token is not open")
        return hsm

    async def generate_aes_key(self, label: str) -> None:
        await self._hsm().in_session(partial(token_objects.generate_aes, label=label), read_write=True)

    async def aes_gcm_encrypt(self, label: str, plaintext: bytes, aad: bytes) -> bytes:
        op = partial(token_objects.aes_gcm_encrypt, label=label, plaintext=plaintext, aad=aad)
        return await self._hsm().in_session(op)

    async def aes_gcm_decrypt(self, label: str, blob: bytes, aad: bytes) -> bytes | None:
        op = partial(token_objects.aes_gcm_decrypt, label=label, blob=blob, aad=aad)
        try:
            return await self._hsm().in_session(op)
        except HsmDecryptFailed:
            return None

    async def generate_ec_key(self, label: str, curve: str) -> bytes:
        op = partial(token_objects.generate_ec, label=label, curve=curve)
        return await self._hsm().in_session(op, read_write=True)

    async def ec_sign(self, label: str, digest: bytes) -> bytes:
        return await self._hsm().in_session(partial(token_objects.ec_sign, label=label, digest=digest))

    async def ec_public_key(self, label: str) -> bytes:
        return await self._hsm().in_session(partial(token_objects.ec_public_key, label=label))

    async def destroy(self, label: str) -> None:
        await self._hsm().in_session(partial(token_objects.destroy, label=label), read_write=True)

    async def forget_found_keys(self) -> None:
        hsm = self._device()
        if hsm is not None:
            hsm.forget_key_handles()

    async def key_attributes(self, label: str) -> dict[str, Any]:
        return await self._hsm().in_session(partial(token_objects.attributes, label=label))
