"""issue/:role (a new key pair and its certificate) and sign/:role (a certificate for a CSR). With the
role's generate_lease the certificate is leased: when the lease ends or is revoked, so is the certificate."""

from __future__ import annotations

import asyncio

from engine.backends.pki.context import (
    FORMAT_FIELDS,
    Pki,
    bundled,
    checked_format,
    issued_fields,
    load_urls,
    private_key_fields,
)
from engine.backends.pki.issuer import require_issuer
from engine.backends.pki.paths_roles import ROLE_NAME
from engine.backends.pki.roles import Role, require_role
from engine.backends.pki.subject import Names, role_names
from engine.backends.pki.validity import new_serial, validity
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response, Secret
from engine.storage.base import Storage

ROLE = ROLE_NAME.replace("?P<name>", "?P<role>")
REQUEST_FIELDS = {
    "common_name": Field(FieldType.STRING),
    "alt_names": Field(FieldType.LIST),
    "ip_sans": Field(FieldType.LIST),
    "ttl": Field(FieldType.DURATION),
    "exclude_cn_from_sans": Field(FieldType.BOOL),
    **FORMAT_FIELDS,
}
# Vault's key type check on sign/:role.
_WRONG_TYPE = "role requires keys of type {key_type}"


def _check_csr_key(role: Role, public: pki_crypto.PublicKey) -> None:
    if role.key_type == "any":
        return
    key_type, bits = pki_crypto.describe_public_key(public)
    if key_type != role.key_type:
        raise BadRequest(_WRONG_TYPE.format(key_type=role.key_type))
    if key_type != "ed25519" and bits < role.key_bits:
        raise BadRequest(f"role requires a minimum of {role.key_bits} bits for {key_type} keys, got {bits}")


class IssuePaths:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def paths(self) -> list[Path]:
        return [
            Path(
                rf"issue/{ROLE}",
                operations={Op.UPDATE: self.issue},
                fields=REQUEST_FIELDS,
                synopsis="Request a certificate using a certain role with the provided details.",
            ),
            Path(
                rf"sign/{ROLE}",
                operations={Op.UPDATE: self.sign},
                fields={**REQUEST_FIELDS, "csr": Field(FieldType.STRING, required=True)},
                synopsis="Request certificates using a certain role with the provided details.",
            ),
        ]

    async def issue(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await require_role(storage, data.get("role"))
        if role.key_type == "any":
            raise BadRequest('role key type "any" not allowed for issuing certificates, only signing')
        checked_format(data.get("format"), data.get("private_key_format"))
        names = role_names(
            role, data.get("common_name"), data.get("alt_names"), data.get("ip_sans"), data.get("exclude_cn_from_sans")
        )
        # Off the event loop: an RSA 4096 key takes long enough to stall every other request.
        pair = await asyncio.to_thread(pki_crypto.generate_key, role.key_type, role.key_bits)
        response = await self._certificate(storage, role, data, names, pair.public_key)
        assert response.data is not None
        response.data.update(private_key_fields(pair, data.get("format"), data.get("private_key_format")))
        bundled(response.data, data.get("format"), response.data["ca_chain"])
        return response

    async def sign(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await require_role(storage, data.get("role"))
        checked_format(data.get("format"))
        try:
            csr = pki_crypto.load_csr(data.get("csr"))
        except pki_crypto.CsrError as exc:
            raise BadRequest(str(exc)) from None
        public = pki_crypto.csr_public_key(csr)
        _check_csr_key(role, public)
        common_name = data.get("common_name")
        if role.use_csr_common_name and pki_crypto.csr_common_name(csr):
            common_name = pki_crypto.csr_common_name(csr)
        alt_names, ip_sans = data.get("alt_names"), data.get("ip_sans")
        if role.use_csr_sans:
            dns, ips, emails, _uris = pki_crypto.csr_alt_names(csr)
            if dns or ips or emails:
                alt_names, ip_sans = dns + emails, ips
        names = role_names(role, common_name, alt_names, ip_sans, data.get("exclude_cn_from_sans"))
        response = await self._certificate(storage, role, data, names, public)
        assert response.data is not None
        bundled(response.data, data.get("format"), response.data["ca_chain"])
        return response

    async def _certificate(
        self, storage: Storage, role: Role, data: FieldData, names: Names, public: pki_crypto.PublicKey
    ) -> Response:
        issuer = await require_issuer(storage)
        ca_cert = issuer.certificate
        mount = self.pki.mount
        now = self.pki.now()
        valid = validity(
            now=now,
            requested_ttl=data.get("ttl"),
            role_ttl=role.ttl,
            role_max_ttl=role.max_ttl,
            mount_default_ttl=mount.default_lease_ttl(),
            mount_max_ttl=mount.max_lease_ttl(),
            ca_not_after=ca_cert.not_valid_after_utc,
        )
        urls = await load_urls(storage)
        terms = pki_crypto.CertTerms(
            common_name=names.common_name,
            serial=new_serial(),
            not_before=valid.not_before,
            not_after=valid.not_after,
            dns_names=names.dns_names,
            ip_addresses=names.ip_addresses,
            emails=names.emails,
            subject=role.subject(),
            key_usage=tuple(role.key_usage),
            ext_key_usage=role.ext_key_usages(),
            issuing_certificates=urls.issuing_certificates,
            crl_distribution_points=urls.crl_distribution_points,
            ocsp_servers=urls.ocsp_servers,
        )
        cert = await pki_crypto.build_certificate(terms, public, self.pki.keys.signer(issuer.key), ca_cert)
        serial = await self.pki.record_issued(storage, cert, role.no_store)
        response = Response(data=issued_fields(cert, issuer, data.get("format")), warnings=list(valid.warnings))
        if role.generate_lease:
            response.secret = _lease(int((valid.not_after - now).total_seconds()), serial)
        return response


def _lease(lifetime: int, serial: str) -> Secret:
    # The lease lasts as long as the certificate, and cannot outlive it: not renewable (Vault's pki secret).
    return Secret(ttl=lifetime, max_ttl=lifetime, renewable=False, internal_data={"serial_number": serial})
