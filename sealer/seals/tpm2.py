"""The tpm2 seal: the root key sealed to this machine's TPM 2.0, optionally bound to a PCR policy, so the
daemon unseals itself on the machine it was set up on, in the boot state it was set up in, and nowhere else.

A wrapping is, like a PKCS#11 token's, two layers, so the AAD (this installation) is bound too:

    kek  = 32 random bytes, sealed by the TPM (KEYEDHASH object under a primary re-derived at each use,
           policy = PolicyPCR(pcrs) when `pcrs` is configured)
    blob = JSON {version, public, private, pcrs, pcr_values, ciphertext = AES-256-GCM(kek, root key, aad)}

The blob is kept where the pkcs11 seal keeps its wrappings (core/seal/root-key/<id>, in clear storage):
the TPM's private part opens only inside the TPM that made it, so the blob is useless elsewhere, and
keeping it in storage gives it the seal record's atomic batches and crash safety for free (a file beside
the database would need its own). The device reuses the token bookkeeping of the pkcs11 seal (wrappings,
health, upkeep) as the one member of a Tpm2Seal. A PCR change makes the unseal fail with a message naming
the changed PCRs; recovery shares then re-seal to the new boot state (sealer/seal_tpm_reseal.py), which
is why this seal always keeps the root key also under the recovery key (break-glass).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

from engine.crypto import DecryptError, decrypt, encrypt, new_key
from hsm import Pkcs11Settings
from hsm.tpm2 import PcrMismatch, PcrSelection, SealedObject, Tpm2Settings, TpmError, parse_pcrs
from sealer.seals.base import SealKeyInvalid, SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet

if TYPE_CHECKING:
    from hsm.tpm2.device import Tpm

log = logging.getLogger("sealer.seal")

BLOB_VERSION = 1
DEVICE_NAME = "tpm"
# What the wrapping bookkeeping (shared with the pkcs11 seal) records for the TPM: fixed, so a change of
# `pcrs` or `tcti` in the configuration still finds the stored wrapping (new PCRs apply at the next reseal).
BOOKKEEPING_LABEL = "tpm2"
SEALED_KEY_LABEL = "tpm2-sealed-kek"
RESEAL_HINT = ("if this boot state is expected (a new kernel, firmware or boot chain), re-seal the root key to it "
               "with the recovery shares: sealer operator tpm-reseal")


class Tpm2Device(Pkcs11Seal):
    """The TPM, as the one member of the tpm2 seal."""

    type = "tpm2"

    def __init__(self, settings: Tpm2Settings, pcrs: PcrSelection | None) -> None:
        super().__init__(Pkcs11Settings(lib=f"tpm2:{settings.tcti}", pin="", token_label=BOOKKEEPING_LABEL,
                                        key_label=SEALED_KEY_LABEL, hmac_key_label=f"{SEALED_KEY_LABEL}-unused"),
                         name=DEVICE_NAME, priority=1)
        self._tpm_settings = settings
        self._pcrs = pcrs
        self._tpm: Tpm | None = None

    def __repr__(self) -> str:
        return f"<Tpm2Device tcti={self._tpm_settings.tcti} pcrs={self._pcrs}>"

    @property
    def pcrs(self) -> PcrSelection | None:
        return self._pcrs

    @property
    def is_open(self) -> bool:
        return self._tpm is not None

    def with_keys(self, key_label: str, hmac_key_label: str, *, token_label: str | None = None,
                  generate_key: bool = False) -> Pkcs11Seal:
        raise SealUnavailable("HSM key rotation does not apply to the tpm2 seal (use sealer operator tpm-reseal)")

    async def open(self) -> None:
        if self._tpm is not None:
            return
        try:
            from hsm.tpm2.device import Tpm  # optional dependency: only a tpm2 seal needs tpm2-pytss

            self._tpm = await Tpm.open(self._tpm_settings)
        except TpmError as exc:
            raise SealUnavailable(exc.message) from exc
        log.info("TPM ready: %s", self.describe())

    async def close(self) -> None:
        tpm, self._tpm = self._tpm, None
        if tpm is not None:
            await tpm.close()

    def _device_tpm(self) -> Tpm:
        if self._tpm is None:
            raise SealUnavailable(f"the TPM at {self._tpm_settings.tcti} is not open")
        return self._tpm

    async def wrap(self, secret: bytes, aad: bytes) -> bytes:
        kek = new_key()
        try:
            sealed = await self._device_tpm().seal(kek, self._pcrs)
        except TpmError as exc:
            raise SealUnavailable(exc.message) from exc
        return _blob(sealed, encrypt(kek, secret, aad))

    async def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        sealed, ciphertext = _parse_blob(blob)
        try:
            kek = await self._device_tpm().unseal(sealed)
        except PcrMismatch as exc:
            raise SealKeyInvalid(f"the TPM will not unseal the root key: {exc.message}. The daemon stays sealed: "
                                 f"{RESEAL_HINT}") from exc
        except TpmError as exc:
            raise SealUnavailable(exc.message) from exc
        try:
            return decrypt(kek, ciphertext, aad)
        except DecryptError:
            raise SealKeyInvalid("the TPM unsealed a key that does not open the stored root key "
                                 "(the wrapping belongs to another installation)") from None

    async def probe(self) -> None:
        try:
            await self._device_tpm().probe()
        except TpmError as exc:
            raise SealUnavailable(exc.message) from exc

    def describe(self) -> dict[str, str]:
        info = {"type": self.type, "name": self.name, "tcti": self._tpm_settings.tcti,
                "pcrs": str(self._pcrs) if self._pcrs is not None else ""}
        if self._tpm is not None:
            info.update(self._tpm.describe())
        return info


class Tpm2Seal(TokenSet):
    """The tpm2 seal: a TPM in place of PKCS#11 tokens, with the same stored layout and upkeep."""

    type = "tpm2"
    noun = "TPM"

    def __init__(self, device: Tpm2Device) -> None:
        super().__init__([device])
        self.device = device

    def __repr__(self) -> str:
        return f"<Tpm2Seal {self.device!r}>"

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, **self.device.describe()}


def _blob(sealed: SealedObject, ciphertext: bytes) -> bytes:
    return json.dumps({
        "version": BLOB_VERSION,
        "public": _b64(sealed.public),
        "private": _b64(sealed.private),
        "pcrs": None if sealed.pcrs is None else str(sealed.pcrs),
        "pcr_values": {name: value.hex() for name, value in sealed.pcr_values.items()},
        "ciphertext": _b64(ciphertext),
    }, sort_keys=True).encode()


def _parse_blob(blob: bytes) -> tuple[SealedObject, bytes]:
    try:
        body = json.loads(blob)
        if body["version"] != BLOB_VERSION:
            raise ValueError(f"version {body['version']}")
        pcrs = None if body["pcrs"] is None else parse_pcrs(body["pcrs"])
        sealed = SealedObject(public=_unb64(body["public"]), private=_unb64(body["private"]), pcrs=pcrs,
                              pcr_values={name: bytes.fromhex(value) for name, value in body["pcr_values"].items()})
        return sealed, _unb64(body["ciphertext"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SealKeyInvalid(f"the stored TPM wrapping is damaged or not a tpm2 wrapping ({exc})") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


__all__ = ["RESEAL_HINT", "Tpm2Device", "Tpm2Seal"]
