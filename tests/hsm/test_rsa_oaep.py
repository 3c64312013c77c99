"""The rsa-oaep mechanism on SoftHSM (the TPM case is tests/tpm/test_tpm2_pkcs11.py): a generated RSA key
pair that never leaves the token, the AAD bound into the plaintext, and tampering refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pkcs11 import Attribute, KeyType, ObjectClass, Session

from hsm import Hsm, HsmDecryptFailed, KeyNotFound
from hsm.errors import Where
from hsm.key_handles import KeyHandles
from tests.softhsm import SoftHsmToken


async def test_a_generated_key_pair_wraps_with_the_aad_bound(softhsm_token: SoftHsmToken) -> None:
    settings = replace(softhsm_token.pkcs11_settings(), key_label="wrap-rsa", generate_key=True,
                       mechanism="rsa-oaep")
    hsm = await Hsm.open(settings)
    try:
        blob = await hsm.encrypt(b"s" * 60, b"aad-1")
        assert len(blob) == 256 and await hsm.decrypt(blob, b"aad-1") == b"s" * 60
        with pytest.raises(HsmDecryptFailed):
            await hsm.decrypt(blob, b"aad-2")
        with pytest.raises(HsmDecryptFailed):
            await hsm.decrypt(blob[:100] + bytes([blob[100] ^ 1]) + blob[101:], b"aad-1")
        with pytest.raises(HsmDecryptFailed):
            await hsm.decrypt(b"short", b"aad-1")

        def private_attributes(session: Session, where: Where, handles: KeyHandles) -> tuple[bool, bool]:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA, label="wrap-rsa")
            return key[Attribute.SENSITIVE], key[Attribute.EXTRACTABLE]

        assert await hsm.in_session(private_attributes) == (True, False)
    finally:
        await hsm.close()


async def test_a_missing_key_pair_is_named(softhsm_token: SoftHsmToken) -> None:
    settings = replace(softhsm_token.pkcs11_settings(), key_label="absent-rsa", generate_key=False,
                       mechanism="rsa-oaep")
    with pytest.raises(KeyNotFound, match="absent-rsa"):
        await Hsm.open(settings)
