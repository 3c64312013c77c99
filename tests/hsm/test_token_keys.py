"""hsm.HsmTokenKeys: transit's keys as token objects. Read back from the token, every generated key is
non-extractable and sensitive (its value cannot be read); encryption, decryption and signing happen in
the token; labels are replaced and destroyed; the token's sessions survive a module re-initialise."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from softhsm import SoftHsmToken, make_token

from hsm import Hsm, HsmError, HsmTokenKeys, KeyNotFound, open_hsm

NEVER_LEAVES = {
    "token": True,
    "private": True,
    "sensitive": True,
    "extractable": False,
    "always_sensitive": True,
    "never_extractable": True,
    "modifiable": False,
    "value_readable": False,
}


@pytest.fixture
async def hsm(softhsm_token: SoftHsmToken) -> AsyncIterator[Hsm]:
    async with open_hsm(softhsm_token.pkcs11_settings()) as opened:
        yield opened


@pytest.fixture
def keys(hsm: Hsm) -> HsmTokenKeys:
    return HsmTokenKeys.over(hsm)


async def test_generated_aes_key_is_sensitive_and_never_extractable(keys: HsmTokenKeys) -> None:
    await keys.generate_aes_key("transit/m/aes/1")
    attributes = await keys.key_attributes("transit/m/aes/1")
    assert {name: attributes[name] for name in NEVER_LEAVES} == NEVER_LEAVES
    assert (attributes["class"], attributes["key_type"]) == ("SECRET_KEY", "AES")
    assert attributes["label"] == "transit/m/aes/1"


async def test_generated_ec_private_key_is_sensitive_and_never_extractable(keys: HsmTokenKeys) -> None:
    await keys.generate_ec_key("transit/m/ec/1", "P-256")
    attributes = await keys.key_attributes("transit/m/ec/1")
    assert {name: attributes[name] for name in NEVER_LEAVES} == NEVER_LEAVES
    assert (attributes["class"], attributes["key_type"]) == ("PRIVATE_KEY", "EC")


async def test_aes_gcm_in_the_token(keys: HsmTokenKeys) -> None:
    await keys.generate_aes_key("k")
    blob = await keys.aes_gcm_encrypt("k", b"plaintext", b"aad")
    assert len(blob) == 12 + len(b"plaintext") + 16
    assert blob != await keys.aes_gcm_encrypt("k", b"plaintext", b"aad")  # a fresh IV each time
    assert await keys.aes_gcm_decrypt("k", blob, b"aad") == b"plaintext"
    assert await keys.aes_gcm_decrypt("k", blob, b"other") is None
    tampered = bytearray(blob)
    tampered[15] ^= 1
    assert await keys.aes_gcm_decrypt("k", bytes(tampered), b"aad") is None
    assert await keys.aes_gcm_decrypt("k", blob[:27], b"aad") is None
    await keys.generate_aes_key("other")
    assert await keys.aes_gcm_decrypt("other", blob, b"aad") is None


async def test_ecdsa_in_the_token_verifies_with_the_public_key(keys: HsmTokenKeys) -> None:
    der = await keys.generate_ec_key("signer", "P-256")
    assert der == await keys.ec_public_key("signer")
    public = serialization.load_der_public_key(der)
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    digest = b"\x42" * 32
    raw = await keys.ec_sign("signer", digest)
    assert len(raw) == 64
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


async def test_generating_over_a_label_replaces_the_old_key(keys: HsmTokenKeys) -> None:
    await keys.generate_aes_key("reused")
    blob = await keys.aes_gcm_encrypt("reused", b"old", b"")
    await keys.generate_aes_key("reused")
    assert await keys.aes_gcm_decrypt("reused", blob, b"") is None
    assert (await keys.key_attributes("reused"))["sensitive"]  # exactly one key carries the label


async def test_destroy_removes_every_object_of_the_label(keys: HsmTokenKeys) -> None:
    await keys.generate_ec_key("pair", "P-256")
    await keys.destroy("pair")
    with pytest.raises(HsmError):
        await keys.key_attributes("pair")
    with pytest.raises(KeyNotFound):
        await keys.ec_public_key("pair")
    await keys.destroy("pair")  # nothing left: nothing to do


async def test_missing_labels_and_unoffered_curves(keys: HsmTokenKeys) -> None:
    with pytest.raises(KeyNotFound):
        await keys.aes_gcm_encrypt("nope", b"", b"")
    with pytest.raises(HsmError, match="curve P-521 is not offered"):
        await keys.generate_ec_key("p521", "P-521")


async def test_no_open_token() -> None:
    with pytest.raises(HsmError, match="the PKCS#11 token is not open"):
        await HsmTokenKeys(lambda: None).generate_aes_key("x")


async def test_keys_are_made_through_a_read_write_session_when_the_seal_is_read_only(
    softhsm_token: SoftHsmToken,
) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()):
        pass  # the seal's own keys exist now
    async with open_hsm(softhsm_token.pkcs11_settings(generate_key=False)) as read_only:
        keys = HsmTokenKeys.over(read_only)
        await keys.generate_aes_key("made-read-only")
        blob = await keys.aes_gcm_encrypt("made-read-only", b"x", b"")
        assert await keys.aes_gcm_decrypt("made-read-only", blob, b"") == b"x"
    # The key is a token object: another session finds it.
    async with open_hsm(softhsm_token.pkcs11_settings()) as again:
        assert await HsmTokenKeys.over(again).aes_gcm_decrypt("made-read-only", blob, b"") == b"x"


async def test_token_keys_survive_a_module_reinitialise(
    softhsm_token: SoftHsmToken, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_hsm(softhsm_token.pkcs11_settings()):
        pass  # the seal's own keys exist now
    async with open_hsm(softhsm_token.pkcs11_settings(generate_key=False)) as first:
        keys = HsmTokenKeys.over(first)
        await keys.generate_aes_key("survivor")  # opens the read-write session
        blob = await keys.aes_gcm_encrypt("survivor", b"x", b"")
        # A token made after the module was loaded is found only by re-initialising the module, which
        # ends every session of the process, ours included.
        newer = make_token(softhsm_token.directory, softhsm_token.label + "-new", "1111", "2222")
        with caplog.at_level(logging.WARNING, logger="sealer.hsm"):
            async with open_hsm(newer.pkcs11_settings()):
                pass
            assert await keys.aes_gcm_decrypt("survivor", blob, b"") == b"x"
        messages = [record.getMessage() for record in caplog.records]
        assert any("re-initialising PKCS#11 module" in m for m in messages)
        assert any(m.startswith("reconnected to token") for m in messages)
        await keys.generate_aes_key("after-reinit")  # a new read-write session on the new generation
        assert (await keys.key_attributes("after-reinit"))["never_extractable"]
