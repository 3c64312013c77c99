"""One PKCS#11 token of the pkcs11 seal: the root key is wrapped with both of the token's keys, neither of
which ever leaves the token. Several of these make up a TokenSet (sealer/seals/tokens.py).

A wrapping is two layers, so that it needs both keys (issue 2: the token's HMAC key takes part in
protecting the keys, not only its AES key):

    inner = AES-256-GCM(HKDF(token HMAC(WRAP_KEY_LABEL + aad), info=WRAP_KEY_INFO), secret, aad)
    blob  = token AES-256-GCM(inner, aad)
"""

from __future__ import annotations

import logging
from dataclasses import replace

from engine.crypto import DecryptError, decrypt, derive_key, encrypt
from hsm import Hsm, HsmDecryptFailed, HsmError, Pkcs11Settings, TokenKeysProcess
from sealer.seals.base import SealKeyInvalid, SealUnavailable

log = logging.getLogger("sealer.seal")

WRAP_KEY_LABEL = b"sealer/wrap-key/"
WRAP_KEY_INFO = b"sealer token wrap v1"
PROBE_DATA = b"sealer/health-probe"


class Pkcs11Seal:
    type = "pkcs11"
    auto_unseal = True

    def __init__(self, settings: Pkcs11Settings, *, name: str = "", priority: int = 1) -> None:
        self._settings = settings
        self._hsm: Hsm | None = None
        # Transit's in-token keys, on a session of their own in another process (hsm/keys_process.py).
        self._token_keys = TokenKeysProcess(settings)
        self.name = name or settings.token_label or f"serial-{settings.token_serial}"
        self.priority = priority

    def __repr__(self) -> str:
        return f"<Pkcs11Seal {self.name} key={self._settings.key_label}>"

    @property
    def settings(self) -> Pkcs11Settings:
        return self._settings

    @property
    def is_open(self) -> bool:
        return self._hsm is not None

    @property
    def hsm(self) -> Hsm | None:
        """The open token (None until opened): the seal's wrap and unwrap, and its health check."""
        return self._hsm

    @property
    def token_keys(self) -> TokenKeysProcess:
        """Transit's hsm-* keys in this token (sealer/transit_token.py)."""
        return self._token_keys

    @property
    def token_label(self) -> str | None:
        """The token's label as the token reports it once open, else as configured."""
        return self._info().get("token_label", self._settings.token_label)

    @property
    def token_serial(self) -> str | None:
        return self._info().get("token_serial", self._settings.token_serial)

    def with_keys(self, key_label: str, hmac_key_label: str, *, token_label: str | None = None,
                  generate_key: bool = False) -> Pkcs11Seal:
        """The same library and PIN, with other key labels (and perhaps another token): unopened."""
        token = {} if token_label is None else {"token_label": token_label, "token_serial": None}
        settings = replace(self._settings, key_label=key_label, hmac_key_label=hmac_key_label,
                           generate_key=generate_key, **token)
        return Pkcs11Seal(settings, name=self.name, priority=self.priority)

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
        try:
            await self._token_keys.close()
        finally:
            if hsm is not None:
                await hsm.close()

    def _device(self) -> Hsm:
        if self._hsm is None:
            raise SealUnavailable(f"the PKCS#11 token {self.name} is not open")
        return self._hsm

    def _info(self) -> dict[str, str]:
        return self._hsm.describe() if self._hsm is not None else {}

    async def wrap(self, secret: bytes, aad: bytes) -> bytes:
        """`secret` under both of the token's keys (see the module docstring)."""
        try:
            inner = encrypt(await self._hmac_wrap_key(aad), secret, aad)
            return await self._device().encrypt(inner, aad)
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc

    async def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        key_label, hmac_label = self._settings.key_label, self._settings.hmac_key_label
        try:
            inner = await self._device().decrypt(blob, aad)
            wrap_key = await self._hmac_wrap_key(aad)
        except HsmDecryptFailed as exc:
            raise SealKeyInvalid(
                f"the key '{key_label}' of token {self.name} does not open the stored root key "
                f"(is '{key_label}' the key this installation was initialised with?)"
            ) from exc
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc
        try:
            return decrypt(wrap_key, inner, aad)
        except DecryptError:
            raise SealKeyInvalid(
                f"the HMAC key '{hmac_label}' of token {self.name} does not open the stored root key, though "
                f"the key '{key_label}' does (is '{hmac_label}' the HMAC key this installation was initialised "
                "with?)"
            ) from None

    async def _hmac_wrap_key(self, aad: bytes) -> bytes:
        # Only the token can compute this MAC, so the derived key exists only while the token is present.
        return derive_key(await self._device().hmac(WRAP_KEY_LABEL + aad), info=WRAP_KEY_INFO)

    async def probe(self) -> None:
        """One cheap call that needs the session and the keys: raises SealUnavailable if the token is gone."""
        try:
            await self._device().hmac(PROBE_DATA)
        except HsmError as exc:
            raise SealUnavailable(str(exc)) from exc

    def describe(self) -> dict[str, str]:
        info = {"type": self.type, "name": self.name, "key_label": self._settings.key_label,
                "hmac_key_label": self._settings.hmac_key_label}
        info.update(self._info())
        return info
