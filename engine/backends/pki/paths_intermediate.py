"""Bringing a CA in: intermediate/generate/:type (a key and its CSR), intermediate/set-signed (the
signed certificate for that key) and config/ca (a CA certificate with its private key, made elsewhere)."""

from __future__ import annotations

from typing import Any

from cryptography import x509

from engine.backends.pki import certstore
from engine.backends.pki.ca_keys import CaKeys, KeyRecord
from engine.backends.pki.ca_requests import KEY_FIELDS, NAME_FIELDS, exported_fields, new_ca_key, requested_names
from engine.backends.pki.context import FORMAT_FIELDS, Pki
from engine.backends.pki.issuer import (
    PENDING_KEY,
    Issuer,
    load_issuer,
    load_pending_key,
    save_issuer,
    save_pending_key,
)
from engine.backends.pki.subject_attributes import subject_attributes
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage


class IntermediatePaths:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def paths(self) -> list[Path]:
        return [
            Path(
                r"intermediate/generate/(?P<exported>internal|exported)",
                operations={Op.UPDATE: self.generate_intermediate},
                fields={**NAME_FIELDS, **KEY_FIELDS, **FORMAT_FIELDS, "add_basic_constraints": Field(FieldType.BOOL)},
                synopsis="Generate a new CSR and private key used for signing.",
            ),
            Path(
                r"intermediate/set-signed",
                operations={Op.UPDATE: self.set_signed},
                fields={"certificate": Field(FieldType.STRING, required=True)},
                synopsis="Provide the signed intermediate CA cert.",
            ),
            Path(
                r"config/ca",
                operations={Op.UPDATE: self.import_ca},
                fields={"pem_bundle": Field(FieldType.STRING, required=True)},
                synopsis="Set the CA certificate and private key used for generated credentials.",
            ),
        ]

    async def generate_intermediate(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        names = requested_names(data)
        new = await new_ca_key(self.pki, data, "intermediate/generate")
        try:
            terms = pki_crypto.CertTerms(
                common_name=names.common_name,
                serial=0,
                not_before=self.pki.now(),
                not_after=self.pki.now(),
                dns_names=names.dns_names,
                ip_addresses=names.ip_addresses,
                emails=names.emails,
                is_ca=data.get("add_basic_constraints"),
                subject=subject_attributes(data.get),
            )
            csr = await pki_crypto.build_csr(terms, new.signer)
            previous = await load_pending_key(storage)
            await save_pending_key(storage, new.record)
        except BaseException:
            await self.pki.keys.discard(new.record)
            raise
        if previous is not None:
            await self.pki.keys.discard(previous)
        body: dict[str, Any] = {"csr": pki_crypto.csr_pem(csr), "key_id": new.record.key_id}
        body.update(exported_fields(new, data))
        return Response(data=body)

    async def set_signed(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        try:
            certs = pki_crypto.load_certs(data.get("certificate"))
        except ValueError:
            raise BadRequest("the certificate could not be parsed: expected one or more PEM certificates") from None
        cert, parents = certs[0], [pki_crypto.cert_pem(c) for c in certs[1:]]
        pending = await load_pending_key(storage)
        if pending is None:
            raise BadRequest("no key is waiting for a signed certificate: call intermediate/generate first")
        signer = self.pki.keys.signer(pending)
        if not pki_crypto.same_public_key(cert.public_key(), signer.public_key):  # type: ignore[arg-type]
            raise BadRequest("the certificate's public key does not match the key made by intermediate/generate")
        if not pki_crypto.is_ca_certificate(cert):
            raise BadRequest("the certificate is not a CA certificate (basic constraints CA:TRUE)")
        response = await self._install(storage, cert, parents, pending)
        await storage.delete(PENDING_KEY)
        return response

    async def import_ca(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        """A CA made elsewhere, with its private key (held in process from now on, like Vault's)."""
        key_pem, cert_pems = pki_crypto.split_pem_bundle(data.get("pem_bundle"))
        if key_pem is None:
            raise BadRequest("private key not found in the PEM bundle")
        if not cert_pems:
            raise BadRequest("certificate not found in the PEM bundle")
        try:
            pair = pki_crypto.load_key(key_pem)
            certs = [pki_crypto.load_cert(pem) for pem in cert_pems]
        except (ValueError, TypeError, pki_crypto.KeySpecError):
            raise BadRequest("the PEM bundle could not be parsed") from None
        cert = certs[0]
        if not pki_crypto.same_public_key(cert.public_key(), pair.public_key):  # type: ignore[arg-type]
            raise BadRequest("the private key does not match the first certificate in the PEM bundle")
        if not pki_crypto.is_ca_certificate(cert):
            raise BadRequest("the certificate is not a CA certificate (basic constraints CA:TRUE)")
        return await self._install(
            storage, cert, [pki_crypto.cert_pem(c) for c in certs[1:]], CaKeys.imported(pair).record
        )

    async def _install(self, storage: Storage, cert: x509.Certificate, parents: list[str], key: KeyRecord) -> Response:
        """Make `cert` (with `key`) the mount's issuer, replacing any before it."""
        previous = await load_issuer(storage)
        issuer = Issuer.new(cert, parents, key)
        await save_issuer(storage, issuer)
        await certstore.store_cert(storage, cert)
        await self.pki.revoker.rebuild(storage, issuer)
        if previous is not None and previous.key.key_id != key.key_id:
            await self.pki.keys.discard(previous.key)
        return Response(
            data={
                "imported_issuers": [issuer.issuer_id],
                "imported_keys": None,
                "mapping": {issuer.issuer_id: key.key_id},
            }
        )
