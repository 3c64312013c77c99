"""engine/crypto/x509 on its own: a token signer whose signature does not verify is never served, a CSR
made for a token key carries that key, and key pairs keep their material out of reprs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from engine.crypto import x509 as pki_crypto

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TERMS = pki_crypto.CertTerms("ca.example.com", 7, NOW, NOW + timedelta(days=1), is_ca=True)


def token_like(key: ec.EllipticCurvePrivateKey) -> pki_crypto.TokenSigner:
    """A signer shaped like the token's (digest in, raw r || s out), over a key held here."""

    async def sign_digest(digest: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pki_crypto.TokenSigner(spki, sign_digest)


async def test_token_signer_output_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = token_like(key)
    cert = await pki_crypto.build_certificate(TERMS, signer.public_key, signer, None)
    cert.verify_directly_issued_by(cert)
    assert cert.public_key() == key.public_key()
    csr = await pki_crypto.build_csr(TERMS, signer)
    assert csr.is_signature_valid and csr.public_key() == key.public_key()
    crl = await pki_crypto.build_crl(cert, signer, [(5, NOW)], 1, NOW, NOW + timedelta(hours=1))
    assert crl.is_signature_valid(key.public_key())


async def test_a_signature_that_does_not_verify_is_never_returned() -> None:
    """A token answering with some other key's signature (a failure a real token cannot be made to show)."""
    claimed = ec.generate_private_key(ec.SECP256R1())
    spki = claimed.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other = token_like(ec.generate_private_key(ec.SECP256R1()))
    wrong = pki_crypto.TokenSigner(spki, other._sign_digest)
    with pytest.raises(pki_crypto.SignatureAssemblyError):
        await pki_crypto.build_certificate(TERMS, wrong.public_key, wrong, None)
    with pytest.raises(pki_crypto.SignatureAssemblyError):
        await pki_crypto.build_csr(TERMS, wrong)


def test_key_pair_repr_has_no_key_material() -> None:
    pair = pki_crypto.generate_key("ec", 256)
    assert repr(pair) == "KeyPair(key_type='ec', key_bits=256)"
    assert "PRIVATE" not in repr(pki_crypto.SoftwareSigner(pair))


@pytest.mark.parametrize(("serial", "text"), [(1, "01"), (0x1FF, "01:ff"), (2**64, "01:00:00:00:00:00:00:00:00")])
def test_serial_spelling(serial: int, text: str) -> None:
    assert pki_crypto.format_serial(serial) == text
    assert pki_crypto.parse_serial(text.replace(":", "-").upper()) == serial
