"""Certificates and CSRs as the PKI engine makes them: what goes in (CertTerms, plain data) and the
cryptography builders that put it there, signed by a Signer."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.crypto.x509.signers import Signer

# Vault's key_usage names (Go's x509.KeyUsage without the prefix) -> cryptography's KeyUsage arguments.
KEY_USAGES = {
    "DigitalSignature": "digital_signature",
    "ContentCommitment": "content_commitment",
    "KeyEncipherment": "key_encipherment",
    "DataEncipherment": "data_encipherment",
    "KeyAgreement": "key_agreement",
    "CertSign": "key_cert_sign",
    "CRLSign": "crl_sign",
    "EncipherOnly": "encipher_only",
    "DecipherOnly": "decipher_only",
}
# Vault's ext_key_usage names -> OIDs.
EXT_KEY_USAGES = {
    "Any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "ServerAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "ClientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "CodeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "EmailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "TimeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OcspSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}
CA_KEY_USAGES = ("CertSign", "CRLSign", "DigitalSignature")
# Vault's subject fields -> attribute OIDs, in the order Go's pkix.Name writes them (the CN comes after).
SUBJECT_FIELDS = {
    "country": NameOID.COUNTRY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "street_address": NameOID.STREET_ADDRESS,
    "postal_code": NameOID.POSTAL_CODE,
    "organization": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
}


class CsrError(ValueError):
    """A CSR that cannot be parsed or whose signature does not verify."""


@dataclass(frozen=True)
class CertTerms:
    """Everything a certificate says, chosen by the engine."""

    common_name: str
    serial: int
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    is_ca: bool = False
    max_path_length: int = -1  # -1: no limit
    key_usage: tuple[str, ...] = ()
    ext_key_usage: tuple[str, ...] = ()
    issuing_certificates: tuple[str, ...] = ()
    crl_distribution_points: tuple[str, ...] = ()
    ocsp_servers: tuple[str, ...] = field(default=())
    # Further subject attributes besides the CN: Vault's field name -> its values.
    subject: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _name(terms: CertTerms) -> x509.Name:
    given = dict(terms.subject)
    attributes = [
        x509.NameAttribute(oid, value)
        for field_name, oid in SUBJECT_FIELDS.items()
        for value in given.get(field_name, ())
    ]
    if terms.common_name:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, terms.common_name))
    return x509.Name(attributes)


def _alt_names(terms: CertTerms) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in terms.dns_names]
    names += [x509.RFC822Name(e) for e in terms.emails]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in terms.ip_addresses]
    names += [x509.UniformResourceIdentifier(u) for u in terms.uris]
    return names


def _key_usage(names: tuple[str, ...]) -> x509.KeyUsage:
    flags = dict.fromkeys(KEY_USAGES.values(), False)
    for name in names:
        flags[KEY_USAGES[name]] = True
    return x509.KeyUsage(**flags)


def _distribution(terms: CertTerms) -> list[tuple[x509.ExtensionType, bool]]:
    extensions: list[tuple[x509.ExtensionType, bool]] = []
    access = [
        x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u))
        for u in terms.issuing_certificates
    ] + [
        x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
        for u in terms.ocsp_servers
    ]
    if access:
        extensions.append((x509.AuthorityInformationAccess(access), False))
    if terms.crl_distribution_points:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in terms.crl_distribution_points
        ]
        extensions.append((x509.CRLDistributionPoints(points), False))
    return extensions


async def build_certificate(
    terms: CertTerms,
    subject_key: CertificatePublicKeyTypes,
    signer: Signer,
    issuer: x509.Certificate | None,
) -> x509.Certificate:
    """A certificate for `subject_key`, signed by `signer`: self-signed when `issuer` is None."""
    subject = _name(terms)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(subject_key)
        .serial_number(terms.serial)
        .not_valid_before(terms.not_before)
        .not_valid_after(terms.not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key),  # type: ignore[arg-type]
            critical=False,
        )
    )
    path_length = None if terms.max_path_length < 0 else terms.max_path_length
    builder = builder.add_extension(
        x509.BasicConstraints(ca=terms.is_ca, path_length=path_length if terms.is_ca else None), critical=True
    )
    usages = CA_KEY_USAGES if terms.is_ca else terms.key_usage
    if usages:
        builder = builder.add_extension(_key_usage(usages), critical=True)
    if terms.ext_key_usage and not terms.is_ca:
        oids = [EXT_KEY_USAGES[name] for name in terms.ext_key_usage]
        builder = builder.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    alt_names = _alt_names(terms)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    for extension, critical in _distribution(terms):
        builder = builder.add_extension(extension, critical=critical)
    return await signer.certificate(builder)


async def build_csr(terms: CertTerms, signer: Signer) -> x509.CertificateSigningRequest:
    """A CSR for the signer's own key (an intermediate CA asking to be signed)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(terms))
    alt_names = _alt_names(terms)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if terms.is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return await signer.csr(builder)


def load_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise CsrError("certificate request could not be parsed") from exc
    if not csr.is_signature_valid:
        raise CsrError("request signature invalid")
    return csr


def csr_common_name(csr: x509.CertificateSigningRequest) -> str:
    found = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else ""


def csr_alt_names(csr: x509.CertificateSigningRequest) -> tuple[list[str], list[str], list[str], list[str]]:
    """(dns names, ip addresses, emails, uris) the CSR asks for."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], [], []
    return (
        san.get_values_for_type(x509.DNSName),
        [str(ip) for ip in san.get_values_for_type(x509.IPAddress)],
        san.get_values_for_type(x509.RFC822Name),
        san.get_values_for_type(x509.UniformResourceIdentifier),
    )


def csr_public_key(csr: x509.CertificateSigningRequest) -> CertificatePublicKeyTypes:
    public = csr.public_key()
    return public  # type: ignore[return-value]


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def csr_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode().strip()


def load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def load_certs(pem_bundle: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order (ValueError when there is none or one is bad)."""
    return x509.load_pem_x509_certificates(pem_bundle.encode())


def same_public_key(a: CertificatePublicKeyTypes, b: CertificatePublicKeyTypes) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(serialization.Encoding.DER, spki) == b.public_bytes(serialization.Encoding.DER, spki)


def format_serial(serial: int) -> str:
    """Vault's serial_number spelling: lower-case hex bytes joined by ':'."""
    raw = serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big")
    return ":".join(f"{b:02x}" for b in raw)


def parse_serial(text: str) -> int:
    """A serial as Vault accepts it: hex bytes separated by ':' or '-' (ValueError otherwise)."""
    return int(text.replace(":", "").replace("-", ""), 16)


def is_ca_certificate(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
