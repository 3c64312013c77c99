"""Reading what the mount has issued: ca, ca/pem, ca_chain, crl, crl/pem (raw bodies, no token needed),
cert/:serial (JSON, also cert/ca, cert/ca_chain and cert/crl), certs/ and certs/revoked/ (lists), and
crl/rotate."""

from __future__ import annotations

import base64

from engine.backends.pki import certstore
from engine.backends.pki.context import Pki
from engine.backends.pki.issuer import NO_ISSUER, require_issuer
from engine.backends.pki.times import rfc3339
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import FieldData, Path
from engine.request import BytesResponse, Op, Request, Response
from engine.storage.base import Storage

# Vault's content types for the raw endpoints.
PKIX_CERT = "application/pkix-cert"
PEM_CHAIN = "application/pem-certificate-chain"
PKIX_CRL = "application/pkix-crl"
PEM_FILE = "application/x-pem-file"
UNAUTHENTICATED = ("cert/*", "ca/pem", "ca_chain", "ca", "crl", "crl/pem")


def _pem_block(der: bytes, kind: str) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])


class FetchPaths:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def paths(self) -> list[Path]:
        return [
            Path(r"ca", operations={Op.READ: self.ca_der}, synopsis="Fetch the CA certificate (DER)."),
            Path(r"ca/pem", operations={Op.READ: self.ca_pem}, synopsis="Fetch the CA certificate (PEM)."),
            Path(r"ca_chain", operations={Op.READ: self.ca_chain}, synopsis="Fetch the CA chain (PEM)."),
            Path(r"crl", operations={Op.READ: self.crl_der}, synopsis="Fetch the current CRL (DER)."),
            Path(r"crl/pem", operations={Op.READ: self.crl_pem}, synopsis="Fetch the current CRL (PEM)."),
            Path(r"crl/rotate", operations={Op.READ: self.crl_rotate}, synopsis="Force a rebuild of the CRL."),
            Path(
                r"cert/(?P<serial>[0-9A-Za-z:_-]+)",
                operations={Op.READ: self.cert},
                synopsis="Fetch a CA, CRL, CA chain or non-revoked certificate (JSON).",
            ),
            Path(r"certs/?", operations={Op.LIST: self.list_certs}, synopsis="List the stored certificates."),
            Path(r"certs/revoked/?", operations={Op.LIST: self.list_revoked}, synopsis="List revoked serials."),
        ]

    async def _crl(self, storage: Storage) -> bytes:
        der = await self.pki.revoker.current(storage)
        if der is None:
            raise BadRequest(NO_ISSUER)
        return der

    async def ca_der(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        issuer = await require_issuer(storage)
        return BytesResponse(body=pki_crypto.cert_der(issuer.certificate), content_type=PKIX_CERT)

    async def ca_pem(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        issuer = await require_issuer(storage)
        return BytesResponse(body=issuer.certificate_pem.encode(), content_type=PEM_CHAIN)

    async def ca_chain(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        issuer = await require_issuer(storage)
        return BytesResponse(body="\n".join(issuer.chain_pem).encode(), content_type=PEM_CHAIN)

    async def crl_der(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return BytesResponse(body=await self._crl(storage), content_type=PKIX_CRL)

    async def crl_pem(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return BytesResponse(body=_pem_block(await self._crl(storage), "X509 CRL").encode(), content_type=PEM_FILE)

    async def crl_rotate(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.pki.revoker.rebuild(storage, await require_issuer(storage))
        return Response(data={"success": True})

    async def cert(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        serial = data.get("serial")
        unrevoked = {"revocation_time": 0, "revocation_time_rfc3339": ""}
        if serial in ("ca", "ca_chain"):
            issuer = await require_issuer(storage)
            pem = issuer.certificate_pem if serial == "ca" else "\n".join(issuer.chain_pem)
            body = {"certificate": pem, **unrevoked, "issuer_id": issuer.issuer_id}
            if serial == "ca_chain":
                body["ca_chain"] = issuer.chain_pem
            return Response(data=body)
        if serial == "crl":
            return Response(data={"certificate": _pem_block(await self._crl(storage), "X509 CRL"), **unrevoked})
        try:
            normalized = certstore.normalize_serial(serial)
        except BadRequest:
            return None
        cert = await certstore.load_cert(storage, normalized)
        if cert is None:
            return None
        revocation = await certstore.load_revocation(storage, normalized)
        if revocation is not None:
            unrevoked = {
                "revocation_time": revocation.revocation_time,
                "revocation_time_rfc3339": rfc3339(revocation.revocation_time),
            }
        return Response(data={"certificate": pki_crypto.cert_pem(cert), **unrevoked})

    async def list_certs(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        serials = await certstore.serials(storage)
        return Response(data={"keys": serials} if serials else {})

    async def list_revoked(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        serials = sorted(r.serial_number for r in await certstore.revocations(storage))
        return Response(data={"keys": serials} if serials else {})
