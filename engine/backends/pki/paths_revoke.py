"""revoke (by serial number) and tidy (drop expired certificates and revocations from storage)."""

from __future__ import annotations

from datetime import timedelta

from engine.backends.pki import certstore
from engine.backends.pki.context import Pki
from engine.backends.pki.issuer import load_issuer
from engine.backends.pki.times import rfc3339
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

# Vault's default safety_buffer: 72h past notAfter before an expired certificate is tidied.
SAFETY_BUFFER = 72 * 3600
TIDY_STARTED = (
    "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."
)


class RevokePaths:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def paths(self) -> list[Path]:
        return [
            Path(
                r"revoke",
                operations={Op.UPDATE: self.revoke},
                fields={"serial_number": Field(FieldType.STRING, required=True)},
                synopsis="Revoke a certificate by serial number.",
            ),
            Path(
                r"tidy",
                operations={Op.UPDATE: self.tidy},
                fields={
                    "tidy_cert_store": Field(FieldType.BOOL),
                    "tidy_revoked_certs": Field(FieldType.BOOL),
                    "safety_buffer": Field(FieldType.DURATION, default=SAFETY_BUFFER),
                },
                synopsis="Tidy up the backend by removing expired certificates and revocation information.",
            ),
        ]

    async def revoke(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        serial = certstore.normalize_serial(data.get("serial_number"))
        revocation = await self.pki.revoker.revoke(storage, serial)
        if revocation is None:
            return Response(warnings=[f"certificate with serial {serial} already expired; refusing to add to CRL"])
        return Response(
            data={
                "revocation_time": revocation.revocation_time,
                "revocation_time_rfc3339": rfc3339(revocation.revocation_time),
                "state": "revoked",
            }
        )

    async def tidy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        """Done before answering (stores here are small); Vault runs it in the background."""
        tidy_certs, tidy_revoked = data.get("tidy_cert_store"), data.get("tidy_revoked_certs")
        if not tidy_certs and not tidy_revoked:
            raise BadRequest("at least one of tidy_cert_store and tidy_revoked_certs must be enabled")
        cutoff = self.pki.now() - timedelta(seconds=data.get("safety_buffer"))
        deleted_certs = deleted_revoked = 0
        revoked = {r.serial_number for r in await certstore.revocations(storage)}
        for serial in await certstore.serials(storage):
            cert = await certstore.load_cert(storage, serial)
            if cert is None or cert.not_valid_after_utc > cutoff:
                continue
            if tidy_revoked and serial in revoked:
                await certstore.delete_revocation(storage, serial)
                deleted_revoked += 1
            if tidy_certs or (tidy_revoked and serial in revoked):
                await certstore.delete_cert(storage, serial)
                deleted_certs += 1
        issuer = await load_issuer(storage)
        if deleted_revoked and issuer is not None:
            await self.pki.revoker.rebuild(storage, issuer)
        return Response(
            data={
                "tidy_cert_store": tidy_certs,
                "tidy_revoked_certs": tidy_revoked,
                "safety_buffer": data.get("safety_buffer"),
                "cert_store_deleted_count": deleted_certs,
                "revoked_cert_deleted_count": deleted_revoked,
            },
            warnings=[TIDY_STARTED],
            status=202,
        )
