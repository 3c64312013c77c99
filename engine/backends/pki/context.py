"""What every group of PKI paths shares: the mount, its CA keys, the revoker and the clock, and the
way a certificate is rendered in a response."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from engine.backends.pki import certstore
from engine.backends.pki.ca_keys import CaKeys
from engine.backends.pki.issuer import Issuer
from engine.backends.pki.revocation import Revoker
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import Field, FieldType
from engine.mounts import MountEntry
from engine.storage.base import Storage
from engine.tokens import Clock

URLS_KEY = "urls"
FORMATS = ("pem", "der", "pem_bundle")
PRIVATE_KEY_FORMATS = ("", "pem", "der", "pkcs8")

FORMAT_FIELDS = {
    "format": Field(FieldType.STRING, default="pem"),
    "private_key_format": Field(FieldType.STRING, default="der"),
}


@dataclass(frozen=True)
class Urls:
    issuing_certificates: tuple[str, ...] = ()
    crl_distribution_points: tuple[str, ...] = ()
    ocsp_servers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "issuing_certificates": list(self.issuing_certificates),
            "crl_distribution_points": list(self.crl_distribution_points),
            "ocsp_servers": list(self.ocsp_servers),
        }


async def load_urls(storage: Storage) -> Urls:
    raw = await storage.get(URLS_KEY)
    if raw is None:
        return Urls()
    body = json.loads(raw)
    return Urls(*(tuple(body[name]) for name in ("issuing_certificates", "crl_distribution_points", "ocsp_servers")))


@dataclass(frozen=True)
class Pki:
    mount: MountEntry
    keys: CaKeys
    revoker: Revoker
    clock: Clock

    def now(self) -> datetime:
        return self.clock()

    async def record_issued(self, storage: Storage, cert: x509.Certificate, no_store: bool = False) -> str:
        """The certificate's serial, stored (unless the role says no_store) for cert/ reads and revocation."""
        if no_store:
            return pki_crypto.format_serial(cert.serial_number)
        return await certstore.store_cert(storage, cert)


def checked_format(fmt: str, private_key_format: str = "") -> None:
    if fmt not in FORMATS:
        raise BadRequest(f'unsupported format "{fmt}": use pem, der or pem_bundle')
    if private_key_format not in PRIVATE_KEY_FORMATS:
        raise BadRequest(f'unsupported private_key_format "{private_key_format}": use der, pem or pkcs8')


def render_cert(cert_pem: str, fmt: str) -> str:
    if fmt == "der":
        return base64.b64encode(pki_crypto.cert_der(pki_crypto.load_cert(cert_pem))).decode()
    return cert_pem


def private_key_fields(pair: pki_crypto.KeyPair, fmt: str, private_key_format: str) -> dict[str, str]:
    """private_key and private_key_type, as Vault encodes them: with format der the key is base64 DER
    unless private_key_format asks for PEM or PKCS#8."""
    pkcs8 = private_key_format == "pkcs8"
    pem = pair.pem(pkcs8=pkcs8)
    if fmt == "der" and private_key_format in ("", "der"):
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        return {"private_key": body, "private_key_type": pair.key_type}
    return {"private_key": pem.strip(), "private_key_type": pair.key_type}


def issued_fields(cert: x509.Certificate, issuer: Issuer, fmt: str) -> dict[str, Any]:
    """What issue, sign and sign-intermediate answer about the new certificate."""
    return {
        "certificate": render_cert(pki_crypto.cert_pem(cert), fmt),
        "issuing_ca": render_cert(issuer.certificate_pem, fmt),
        "ca_chain": [render_cert(pem, fmt) for pem in issuer.chain_pem],
        "serial_number": pki_crypto.format_serial(cert.serial_number),
        "expiration": int(cert.not_valid_after_utc.timestamp()),
    }


def bundled(body: dict[str, Any], fmt: str, chain_pem: list[str]) -> dict[str, Any]:
    """With format pem_bundle, Vault's certificate field holds the private key (when there is one), the
    certificate and the chain above it, in that order (certutil's ToPEMBundle)."""
    if fmt == "pem_bundle":
        parts = [body["private_key"]] if "private_key" in body else []
        body["certificate"] = "\n".join([*parts, body["certificate"], *chain_pem])
    return body
