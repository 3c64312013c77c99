"""A PKI CA whose key lives in a real SoftHSM token (key_type hsm): generated there, never extractable,
every certificate, CSR and CRL signed inside it; export refused; and refused with no token at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from softhsm import SoftHsmToken, make_token

from engine.backends.pki.ca_keys import LABEL_PREFIX
from engine.request import BytesResponse, Op
from hsm import HsmError, HsmTokenKeys, open_hsm
from tests.engine.pki_harness import Pki, load_pem, start_pki, stop_pki, verify_chain

NOT_EXPORTABLE = (
    "key_type hsm keeps the CA key in the PKCS#11 token, where it cannot be exported: "
    "use root/generate/internal, or another key_type"
)


@pytest.fixture(scope="module")
def token(softhsm: SoftHsmToken) -> SoftHsmToken:
    return make_token(softhsm.directory, f"pki-{uuid.uuid4().hex[:8]}", softhsm.pin, softhsm.so_pin)


@pytest.fixture
async def keys(token: SoftHsmToken) -> AsyncIterator[HsmTokenKeys]:
    async with open_hsm(token.pkcs11_settings()) as hsm:
        yield HsmTokenKeys.over(hsm)


@pytest.fixture
async def pki(keys: HsmTokenKeys) -> AsyncIterator[Pki]:
    engine = await start_pki(token_keys=keys)
    yield engine
    await stop_pki(engine)


async def label(pki: Pki, key_id: str, mount: str = "pki") -> str:
    return f"{LABEL_PREFIX}/{await pki.mount_uuid(mount)}/{key_id}"


async def test_root_key_lives_in_the_token(pki: Pki, keys: HsmTokenKeys) -> None:
    root = await pki.root_ca(key_type="hsm")
    token_label = await label(pki, root["key_id"])
    attributes = await keys.key_attributes(token_label)
    assert attributes["class"] == "PRIVATE_KEY" and attributes["key_type"] == "EC"
    assert attributes["sensitive"] and attributes["never_extractable"] and attributes["token"]
    assert not attributes["extractable"] and not attributes["value_readable"]
    cert = load_pem(root["certificate"])
    cert.verify_directly_issued_by(cert)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"
    # The stored issuer names the token key; it holds no key material.
    stored = json.loads(await pki.barrier.get(f"logical/{await pki.mount_uuid()}/ca/issuer") or b"")
    assert stored["key"]["pem"] == "" and stored["key"]["token_label"] == token_label


async def test_certificates_and_crls_are_signed_in_the_token(pki: Pki) -> None:
    root = await pki.root_ca(key_type="hsm")
    await pki.role()
    issued = await pki.write("pki/issue/web", common_name="in-token.example.com")
    verify_chain(issued["certificate"], root["certificate"], pki.clock(), "in-token.example.com")
    await pki.write("pki/revoke", serial_number=issued["serial_number"])
    crl = await pki.call(Op.READ, "pki/crl", token=None)
    assert isinstance(crl, BytesResponse)
    parsed = x509.load_der_x509_crl(crl.body)
    assert parsed.is_signature_valid(load_pem(root["certificate"]).public_key())  # type: ignore[arg-type]
    assert parsed.get_revoked_certificate_by_serial_number(int(issued["serial_number"].replace(":", ""), 16))


async def test_exporting_a_token_key_is_refused(pki: Pki, keys: HsmTokenKeys) -> None:
    assert await pki.fails("pki/root/generate/exported", common_name="x.com", key_type="hsm") == NOT_EXPORTABLE
    assert (await pki.fails("pki/ca/pem", op=Op.READ)).startswith("no default issuer")
    await pki.mount("pki_int")
    message = await pki.fails("pki_int/intermediate/generate/exported", common_name="x", key_type="hsm")
    assert message == NOT_EXPORTABLE.replace("root/generate", "intermediate/generate")
    # The refusals left the mount without a CA; internal generation with the token still works.
    root = await pki.root_ca(key_type="hsm")
    assert (await keys.key_attributes(await label(pki, root["key_id"])))["never_extractable"]


async def test_intermediate_key_in_the_token(pki: Pki, keys: HsmTokenKeys) -> None:
    root = await pki.root_ca()
    await pki.mount("pki_int")
    generated = await pki.write(
        "pki_int/intermediate/generate/internal", common_name="Token Intermediate", key_type="hsm", key_bits=384
    )
    csr = x509.load_pem_x509_csr(generated["csr"].encode())
    assert csr.is_signature_valid
    token_public = await keys.ec_public_key(await label(pki, generated["key_id"], "pki_int"))
    assert csr.public_key() == load_der_public_key(token_public)
    signed = await pki.write("pki/root/sign-intermediate", csr=generated["csr"], common_name="int.example.com")
    await pki.write("pki_int/intermediate/set-signed", certificate=signed["certificate"])
    await pki.role(mount="pki_int")
    leaf = await pki.write("pki_int/issue/web", common_name="deep.example.com")
    cert = load_pem(leaf["certificate"])
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
    verify_chain(leaf["certificate"], root["certificate"], pki.clock(), "deep.example.com", (signed["certificate"],))


async def test_deleting_the_root_destroys_the_token_key(pki: Pki, keys: HsmTokenKeys) -> None:
    root = await pki.root_ca(key_type="hsm")
    token_label = await label(pki, root["key_id"])
    await pki.call(Op.DELETE, "pki/root")
    with pytest.raises(HsmError):
        await keys.key_attributes(token_label)


async def test_bad_hsm_key_bits(pki: Pki) -> None:
    message = await pki.fails("pki/root/generate/internal", common_name="x.com", key_type="hsm", key_bits=521)
    assert message == "unsupported bit length for an hsm key: 521 (use 256 or 384)"


async def test_no_token_refuses_key_type_hsm() -> None:
    pki = await start_pki(token_keys=None)
    try:
        message = await pki.fails("pki/root/generate/internal", common_name="x.com", key_type="hsm")
        assert message == (
            "key_type hsm keeps the CA key in a PKCS#11 token, and this server's seal has no token; "
            "use key_type rsa, ec or ed25519"
        )
        assert (await pki.fails("pki/ca/pem", op=Op.READ)).startswith("no default issuer")
    finally:
        await stop_pki(pki)
