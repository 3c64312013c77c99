"""The hsm-* key types through Core.handle, with a real SoftHSM token behind hsm.HsmTokenKeys: the key is
generated in the token, encryption, decryption and signing happen there, storage holds no key material,
and export, backup and what would need key material outside the token are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from softhsm import SoftHsmToken, make_token

from engine.backends.transit.token import LABEL_PREFIX
from engine.request import Op
from hsm import HsmError, HsmTokenKeys, open_hsm
from tests.engine.transit_harness import Transit, b64, start_transit, stop_transit, unb64

IN_TOKEN = "key material is kept in the PKCS#11 token and cannot be exported"


@pytest.fixture(scope="module")
def token(softhsm: SoftHsmToken) -> SoftHsmToken:
    return make_token(softhsm.directory, f"transit-{uuid.uuid4().hex[:8]}", softhsm.pin, softhsm.so_pin)


@pytest.fixture
async def keys(token: SoftHsmToken) -> AsyncIterator[HsmTokenKeys]:
    async with open_hsm(token.pkcs11_settings()) as hsm:
        yield HsmTokenKeys.over(hsm)


@pytest.fixture
async def transit(keys: HsmTokenKeys) -> AsyncIterator[Transit]:
    engine = await start_transit(token_keys=keys)
    yield engine
    await stop_transit(engine)


async def label(transit: Transit, name: str, version: int) -> str:
    return f"{LABEL_PREFIX}/{await transit.mount_uuid()}/{name}/{version}"


async def test_hsm_aes_key_lives_in_the_token(transit: Transit, keys: HsmTokenKeys) -> None:
    created = await transit.write("keys/vault-key", type="hsm-aes256-gcm96")
    assert created["type"] == "hsm-aes256-gcm96" and created["supports_encryption"]
    assert not created["supports_derivation"]
    attributes = await keys.key_attributes(await label(transit, "vault-key", 1))
    assert attributes["class"] == "SECRET_KEY" and attributes["key_type"] == "AES"
    assert attributes["sensitive"] and attributes["never_extractable"] and attributes["token"]
    assert not attributes["extractable"] and not attributes["value_readable"]
    # The stored key has a label, not material.
    stored = (await transit.stored_policy("vault-key"))["keys"]["1"]
    assert stored["key"] is None and stored["hmac_key"] is None
    assert stored["token_label"] == await label(transit, "vault-key", 1)


async def test_encrypt_decrypt_in_the_token(transit: Transit) -> None:
    await transit.write("keys/h", type="hsm-aes256-gcm96")
    ciphertext = await transit.encrypt("h", b"in the token")
    assert ciphertext.startswith("vault:v1:") and len(unb64(ciphertext[9:])) == 12 + 12 + 16
    assert await transit.decrypt("h", ciphertext) == b"in the token"
    with_ad = await transit.encrypt("h", b"bound", associated_data=b64("ctx"))
    assert await transit.decrypt("h", with_ad, associated_data=b64("ctx")) == b"bound"
    assert await transit.fails("decrypt/h", ciphertext=with_ad) == "cipher: message authentication failed"


@pytest.mark.parametrize("index", [0, 12, -1])
async def test_tampered_token_ciphertext_is_400(transit: Transit, index: int) -> None:
    await transit.write("keys/h", type="hsm-aes256-gcm96")
    blob = bytearray(unb64((await transit.encrypt("h", b"secret")).split(":")[2]))
    blob[index] ^= 1
    tampered = "vault:v1:" + base64.b64encode(bytes(blob)).decode()
    assert await transit.fails("decrypt/h", ciphertext=tampered) == "cipher: message authentication failed"
    assert await transit.fails("decrypt/h", ciphertext="vault:v1:" + b64(bytes(20))) == (
        "cipher: message authentication failed"
    )


async def test_rotation_rewrap_batch_and_datakey_with_a_token_key(transit: Transit, keys: HsmTokenKeys) -> None:
    await transit.write("keys/h", type="hsm-aes256-gcm96")
    old = await transit.encrypt("h", b"one")
    await transit.write("keys/h/rotate")
    assert (await keys.key_attributes(await label(transit, "h", 2)))["sensitive"]
    rewrapped = (await transit.write("rewrap/h", ciphertext=old))["ciphertext"]
    assert rewrapped.startswith("vault:v2:") and await transit.decrypt("h", rewrapped) == b"one"
    batch = (await transit.write("encrypt/h", batch_input=[{"plaintext": b64("a")}, {"plaintext": b64("b")}]))
    again = [{"ciphertext": r["ciphertext"]} for r in batch["batch_results"]]
    decrypted = await transit.write("decrypt/h", batch_input=again)
    assert [unb64(r["plaintext"]) for r in decrypted["batch_results"]] == [b"a", b"b"]
    datakey = await transit.write("datakey/plaintext/h")
    assert await transit.decrypt("h", datakey["ciphertext"]) == unb64(datakey["plaintext"])
    await transit.write("keys/h/config", min_decryption_version=2)
    assert await transit.fails("decrypt/h", ciphertext=old) == (
        "ciphertext or signature version is disallowed by policy (too old)"
    )


async def test_token_keys_refuse_export_backup_and_derivation(transit: Transit) -> None:
    await transit.write("keys/h", type="hsm-aes256-gcm96")
    for export_type in ("encryption-key", "hmac-key"):
        error = await transit.error(Op.READ, f"export/{export_type}/h")
        assert (error.status, error.message) == (400, IN_TOKEN)
    assert (await transit.error(Op.READ, "backup/h")).message == IN_TOKEN
    assert await transit.fails("keys/h/config", exportable=True) == IN_TOKEN
    assert await transit.fails("keys/h/config", allow_plaintext_backup=True) == IN_TOKEN
    assert await transit.fails("keys/other", type="hsm-aes256-gcm96", exportable=True) == IN_TOKEN
    assert await transit.fails("keys/other", type="hsm-aes256-gcm96", derived=True) == (
        "key derivation and convergent encryption not supported for keys of type hsm-aes256-gcm96"
    )
    assert await transit.fails("hmac/h", input=b64("x")) == "no HMAC key exists for that key version"
    assert await transit.fails("encrypt/h", plaintext=b64("x"), nonce=b64(bytes(12))) == (
        "provided nonce not allowed for this key"
    )


async def test_a_crafted_backup_cannot_bring_a_token_key_in(transit: Transit) -> None:
    body = {"policy": {"name": "x", "type": 1000, "latest_version": 1, "keys": {"1": {"time": None}}}}
    backup = base64.b64encode(json.dumps(body).encode()).decode()
    message = await transit.fails("restore", backup=backup)
    assert message == f"keys of type hsm-aes256-gcm96 cannot be restored: {IN_TOKEN}"


async def test_hsm_ecdsa_signs_in_the_token(transit: Transit, keys: HsmTokenKeys) -> None:
    created = await transit.write("keys/signer", type="hsm-ecdsa-p256")
    assert created["keys"]["1"]["name"] == "P-256" and created["supports_signing"]
    attributes = await keys.key_attributes(await label(transit, "signer", 1))
    assert attributes["class"] == "PRIVATE_KEY" and attributes["sensitive"] and not attributes["extractable"]
    signature = (await transit.write("sign/signer", input=b64("document")))["signature"]
    assert (await transit.write("verify/signer", input=b64("document"), signature=signature))["valid"]
    assert not (await transit.write("verify/signer", input=b64("forged"), signature=signature))["valid"]
    # The public key is public: exportable without exportable, and it checks the token's signature.
    pem = (await transit.read("export/public-key/signer"))["keys"]["1"]
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(unb64(signature.split(":")[2]), b"document", ec.ECDSA(hashes.SHA256()))
    jws = (await transit.write("sign/signer/sha2-384", input=b64("d"), marshaling_algorithm="jws"))["signature"]
    assert (await transit.write("verify/signer/sha2-384", input=b64("d"), signature=jws, marshaling_algorithm="jws"))[
        "valid"
    ]
    prehashed = b64(hashlib.sha256(b"document").digest())
    signed = (await transit.write("sign/signer", input=prehashed, prehashed=True))["signature"]
    assert (await transit.write("verify/signer", input=b64("document"), signature=signed))["valid"]
    assert (await transit.error(Op.READ, "export/signing-key/signer")).message == IN_TOKEN


async def test_delete_and_trim_remove_the_token_objects(transit: Transit, keys: HsmTokenKeys) -> None:
    await transit.write("keys/h", type="hsm-aes256-gcm96")
    await transit.write("keys/h/rotate")
    await transit.write("keys/h/config", min_decryption_version=2, min_encryption_version=2)
    await transit.write("keys/h/trim", min_available_version=2)
    with pytest.raises(HsmError):
        await keys.key_attributes(await label(transit, "h", 1))
    assert (await keys.key_attributes(await label(transit, "h", 2)))["token"]
    await transit.write("keys/h/config", deletion_allowed=True)
    await transit.call(Op.DELETE, "keys/h")
    with pytest.raises(HsmError):
        await keys.key_attributes(await label(transit, "h", 2))


async def test_a_forced_restore_over_a_token_key_removes_its_objects(transit: Transit, keys: HsmTokenKeys) -> None:
    await transit.write("keys/soft", exportable=True, allow_plaintext_backup=True)
    backup = (await transit.read("backup/soft"))["backup"]
    await transit.write("keys/h", type="hsm-aes256-gcm96")
    await transit.write("restore/h", backup=backup, force=True)
    assert (await transit.read("keys/h"))["type"] == "aes256-gcm96"
    with pytest.raises(HsmError):
        await keys.key_attributes(await label(transit, "h", 1))


async def test_without_a_token_hsm_types_are_refused() -> None:
    engine = await start_transit(token_keys=None)
    try:
        message = await engine.fails("keys/h", type="hsm-ecdsa-p256")
        assert message == (
            "key type hsm-ecdsa-p256 keeps its key in a PKCS#11 token, and this server's seal has no token"
        )
    finally:
        await stop_transit(engine)


async def test_a_closed_token_is_a_500_that_names_the_token(transit: Transit, token: SoftHsmToken) -> None:
    async with open_hsm(token.pkcs11_settings()) as hsm:
        closed_keys = HsmTokenKeys.over(hsm)
    engine = await start_transit(token_keys=closed_keys)
    try:
        message = await engine.fails("keys/h", status=500, type="hsm-aes256-gcm96")
        assert message == "the PKCS#11 token could not generate a key: this Hsm is closed"
    finally:
        await stop_transit(engine)
