"""Certificate revocation lists, signed by the CA's signer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from engine.crypto.x509.signers import Signer


async def build_crl(
    issuer: x509.Certificate,
    signer: Signer,
    revoked: Iterable[tuple[int, datetime]],
    number: int,
    this_update: datetime,
    next_update: datetime,
) -> x509.CertificateRevocationList:
    """A v2 CRL listing `revoked` (serial, revocation time), with a CRL number and the issuer's key id."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return await signer.crl(builder)


def crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def crl_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode().strip()


def load_crl_der(der: bytes) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(der)
