"""The pkcs11 seal: the root key is wrapped inside a PKCS#11 token, and the token's HMAC key takes part
in deriving the barrier key, so nothing outside the token (storage, config, environment) suffices."""

from __future__ import annotations

import logging

from engine.crypto import kdf
from hsm import Hsm, HsmDecryptFailed, HsmError, Pkcs11Settings
from sealer.seals.base import SealKeyInvalid, SealUnavailable

log = logging.getLogger("sealer.seal")

BARRIER_KEY_INFO = b"sealer barrier key v1"
BARRIER_SALT_LABEL = b"sealer/barrier-salt/"


class Pkcs11Seal:
    type = "pkcs11"
    auto_unseal = True

    def __init__(self, settings: Pkcs11Settings) -> None:
        self._settings = settings
        self._hsm: Hsm | None = None

    @property
    def is_open(self) -> bool:
        return self._hsm is not None

    async def open(self) -> None:
        if self._hsm is not None:
            return
        try:
            self._hsm = await Hsm.open(self._settings)
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc
        log.info("PKCS#11 token ready: %s", self._hsm.describe())

    async def close(self) -> None:
        hsm, self._hsm = self._hsm, None
        if hsm is not None:
            await hsm.close()

    def _device(self) -> Hsm:
        if self._hsm is None:
            raise SealUnavailable("the PKCS#11 token is not open")
        return self._hsm

    async def wrap(self, secret: bytes, aad: bytes, unseal_key: bytes | None) -> bytes:
        try:
            return await self._device().encrypt(secret, aad)
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc

    async def unwrap(self, blob: bytes, aad: bytes, unseal_key: bytes | None) -> bytes:
        try:
            return await self._device().decrypt(blob, aad)
        except HsmDecryptFailed as exc:
            raise SealKeyInvalid(
                "the token's wrapping key does not open the stored root key "
                f"(is '{self._settings.key_label}' the key this installation was initialised with?)"
            ) from exc
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc

    async def barrier_key(self, root_key: bytes, installation_id: bytes) -> bytes:
        try:
            salt = await self._device().hmac(BARRIER_SALT_LABEL + installation_id)
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc
        return kdf.derive_key(root_key, salt=salt, info=BARRIER_KEY_INFO)

    def describe(self) -> dict[str, str]:
        info = {"type": self.type, "key_label": self._settings.key_label,
                "hmac_key_label": self._settings.hmac_key_label}
        if self._hsm is not None:
            info.update(self._hsm.describe())
        return info
