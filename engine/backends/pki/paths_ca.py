"""The root CA: root/generate/:type, root (delete) and root/sign-intermediate."""

from __future__ import annotations

from datetime import datetime

from engine.backends.pki import certstore
from engine.backends.pki.ca_requests import KEY_FIELDS, NAME_FIELDS, exported_fields, new_ca_key, requested_names
from engine.backends.pki.context import (
    FORMAT_FIELDS,
    Pki,
    Urls,
    bundled,
    checked_format,
    issued_fields,
    load_urls,
)
from engine.backends.pki.issuer import (
    ISSUER_KEY,
    PENDING_KEY,
    Issuer,
    load_issuer,
    load_pending_key,
    require_issuer,
    save_issuer,
)
from engine.backends.pki.revocation import CRL_KEY
from engine.backends.pki.subject import CN_REQUIRED, Names
from engine.backends.pki.subject_attributes import subject_attributes
from engine.backends.pki.validity import Validity, new_serial, validity
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

EXISTING_ROOT = (
    "Refusing to generate a root certificate over an existing root certificate. If you really want to destroy "
    "the original root certificate, please issue a delete against the root/ endpoint."
)


def _ca_terms(names: Names, valid: Validity, urls: Urls, data: FieldData) -> pki_crypto.CertTerms:
    return pki_crypto.CertTerms(
        common_name=names.common_name,
        serial=new_serial(),
        not_before=valid.not_before,
        not_after=valid.not_after,
        dns_names=names.dns_names,
        ip_addresses=names.ip_addresses,
        emails=names.emails,
        is_ca=True,
        max_path_length=data.get("max_path_length"),
        subject=subject_attributes(data.get),
        issuing_certificates=urls.issuing_certificates,
        crl_distribution_points=urls.crl_distribution_points,
        ocsp_servers=urls.ocsp_servers,
    )


class CaPaths:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def paths(self) -> list[Path]:
        return [
            Path(
                r"root/generate/(?P<exported>internal|exported)",
                operations={Op.UPDATE: self.generate_root},
                fields={
                    **NAME_FIELDS,
                    **KEY_FIELDS,
                    **FORMAT_FIELDS,
                    "ttl": Field(FieldType.DURATION),
                    "max_path_length": Field(FieldType.INT, default=-1),
                },
                synopsis="Generate a new CA certificate and private key used for signing.",
            ),
            Path(r"root", operations={Op.DELETE: self.delete_root}, synopsis="Delete the CA and its key."),
            Path(
                r"root/sign-intermediate",
                operations={Op.UPDATE: self.sign_intermediate},
                fields={
                    **NAME_FIELDS,
                    **FORMAT_FIELDS,
                    "csr": Field(FieldType.STRING, required=True),
                    "ttl": Field(FieldType.DURATION),
                    "max_path_length": Field(FieldType.INT, default=-1),
                    "use_csr_values": Field(FieldType.BOOL),
                },
                synopsis="Issue an intermediate CA certificate based on the provided CSR.",
            ),
        ]

    def _validity(self, data: FieldData, ca_not_after: datetime | None) -> Validity:
        """A CA certificate's: the TTL asked for, else the mount's default, capped by the mount's max."""
        mount = self.pki.mount
        return validity(
            now=self.pki.now(),
            requested_ttl=data.get("ttl"),
            role_ttl=0,
            role_max_ttl=0,
            mount_default_ttl=mount.default_lease_ttl(),
            mount_max_ttl=mount.max_lease_ttl(),
            ca_not_after=ca_not_after,
        )

    async def generate_root(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        if await load_issuer(storage) is not None:
            return Response(warnings=[EXISTING_ROOT])
        names = requested_names(data)
        if not names.common_name:
            raise BadRequest("the common_name field is required")
        valid = self._validity(data, None)
        terms = _ca_terms(names, valid, await load_urls(storage), data)
        new = await new_ca_key(self.pki, data, "root/generate")
        try:
            cert = await pki_crypto.build_certificate(terms, new.signer.public_key, new.signer, None)
            issuer = Issuer.new(cert, [], new.record)
            await save_issuer(storage, issuer)
        except BaseException:
            await self.pki.keys.discard(new.record)
            raise
        await certstore.store_cert(storage, cert)
        await self.pki.revoker.rebuild(storage, issuer)
        body = issued_fields(cert, issuer, data.get("format"))
        del body["ca_chain"]
        body.update(issuer_id=issuer.issuer_id, key_id=new.record.key_id, **exported_fields(new, data))
        return Response(data=bundled(body, data.get("format"), []), warnings=list(valid.warnings))

    async def delete_root(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        issuer = await load_issuer(storage)
        pending = await load_pending_key(storage)
        for key in (ISSUER_KEY, PENDING_KEY, CRL_KEY):
            await storage.delete(key)
        # The keys go last: a crash before leaves a token key unreferenced, never a reference without a key.
        for record in (issuer.key if issuer else None, pending):
            if record is not None:
                await self.pki.keys.discard(record)
        return None

    async def sign_intermediate(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        issuer = await require_issuer(storage)
        checked_format(data.get("format"))
        try:
            csr = pki_crypto.load_csr(data.get("csr"))
        except pki_crypto.CsrError as exc:
            raise BadRequest(str(exc)) from None
        if data.get("use_csr_values"):
            dns, ips, emails, _uris = pki_crypto.csr_alt_names(csr)
            names = Names(pki_crypto.csr_common_name(csr), tuple(dns), tuple(emails), tuple(ips))
        else:
            names = requested_names(data)
        if not names.common_name:
            raise BadRequest(CN_REQUIRED)
        valid = self._validity(data, issuer.certificate.not_valid_after_utc)
        terms = _ca_terms(names, valid, await load_urls(storage), data)
        signer = self.pki.keys.signer(issuer.key)
        cert = await pki_crypto.build_certificate(terms, pki_crypto.csr_public_key(csr), signer, issuer.certificate)
        await certstore.store_cert(storage, cert)
        body = bundled(issued_fields(cert, issuer, data.get("format")), data.get("format"), issuer.chain_pem)
        return Response(data=body, warnings=list(valid.warnings))
