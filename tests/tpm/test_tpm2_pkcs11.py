"""The pkcs11 seal's rsa-oaep mechanism on a TPM through tpm2-pkcs11 (no AES-GCM there), in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.storage.memory import MemoryStorage
from hsm import Hsm, HsmDecryptFailed, MechanismUnsupported, Pkcs11Settings
from sealer.seal_manager import InitRequest, SealManager
from sealer.seals.pkcs11 import Pkcs11Seal
from tests.tpm.tpm2_pkcs11 import Tpm2Pkcs11Token


@pytest.fixture(scope="module")
def tpm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tpm2Pkcs11Token]:
    token = Tpm2Pkcs11Token(tmp_path_factory.mktemp("tpm2-pkcs11")).start()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in token.env().items():  # read by the module when it is loaded
            patch.setenv(name, value)
        yield token
    token.stop()


def settings(token: Tpm2Pkcs11Token, mechanism: str) -> Pkcs11Settings:
    return Pkcs11Settings(lib=token.lib, pin=token.pin, token_label=token.label, key_label=token.rsa_key_label,
                          hmac_key_label=token.hmac_key_label, mechanism=mechanism)


async def test_rsa_oaep_wraps_and_binds_the_aad_and_survives_a_failed_decrypt(tpm_token) -> None:
    hsm = await Hsm.open(settings(tpm_token, "rsa-oaep"))
    try:
        assert hsm.describe()["mechanism"] == "rsa-oaep"
        blob = await hsm.encrypt(b"r" * 60, b"installation-a")
        assert b"r" * 60 not in blob
        with pytest.raises(HsmDecryptFailed):
            await hsm.decrypt(blob, b"installation-b")
        with pytest.raises(HsmDecryptFailed):
            await hsm.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), b"installation-a")
        # tpm2-pkcs11 leaves a session stuck after a failed operation: the next ones still work.
        assert await hsm.decrypt(blob, b"installation-a") == b"r" * 60
        assert len(await hsm.hmac(b"probe")) == 32
    finally:
        await hsm.close()


async def test_aes_gcm_on_a_tpm_token_is_refused_naming_the_mechanism_it_supports(tpm_token) -> None:
    with pytest.raises(MechanismUnsupported) as caught:
        await Hsm.open(settings(tpm_token, "aes-gcm"))
    assert str(caught.value) == (f"token '{tpm_token.label}' does not support CKM_AES_GCM, which mechanism aes-gcm "
                                 "needs; it supports mechanism rsa-oaep: set `mechanism: rsa-oaep`")


async def test_the_pkcs11_seal_inits_and_unseals_through_the_tpm_token(tpm_token) -> None:
    storage = MemoryStorage()
    first = SealManager(storage, Pkcs11Seal(settings(tpm_token, "rsa-oaep"), name="tpm"))
    await first.initialize(InitRequest(recovery_shares=1, recovery_threshold=1))
    await first.seal.close()
    again = SealManager(storage, Pkcs11Seal(settings(tpm_token, "rsa-oaep"), name="tpm"))
    try:
        assert await again.auto_unseal() is True
    finally:
        await again.seal.close()
