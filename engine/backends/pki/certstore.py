"""Issued certificates (certs/<serial>, DER) and revocations (revoked/<serial>), keyed by the serial with
'-' for ':' as Vault stores them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.storage.base import Storage

CERTS = "certs/"
REVOKED = "revoked/"


def normalize_serial(text: str) -> str:
    """A serial as the caller wrote it ('aa:bb', 'aa-bb', 'AA:BB') in Vault's spelling; 400 when it is not hex."""
    try:
        return pki_crypto.format_serial(pki_crypto.parse_serial(text.strip()))
    except ValueError:
        raise BadRequest(f"invalid serial number {text!r}: expected hex bytes separated by ':' or '-'") from None


def _key(serial: str) -> str:
    return serial.replace(":", "-")


@dataclass(frozen=True)
class Revocation:
    serial_number: str
    revocation_time: int  # unix seconds

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.revocation_time, UTC)


async def store_cert(storage: Storage, cert: x509.Certificate) -> str:
    serial = pki_crypto.format_serial(cert.serial_number)
    await storage.put(CERTS + _key(serial), pki_crypto.cert_der(cert))
    return serial


async def load_cert(storage: Storage, serial: str) -> x509.Certificate | None:
    raw = await storage.get(CERTS + _key(serial))
    return None if raw is None else x509.load_der_x509_certificate(raw)


async def delete_cert(storage: Storage, serial: str) -> None:
    await storage.delete(CERTS + _key(serial))


async def serials(storage: Storage) -> list[str]:
    return [name.replace("-", ":") for name in await storage.list(CERTS) if not name.endswith("/")]


async def load_revocation(storage: Storage, serial: str) -> Revocation | None:
    raw = await storage.get(REVOKED + _key(serial))
    return None if raw is None else Revocation(**json.loads(raw))


async def store_revocation(storage: Storage, revocation: Revocation) -> None:
    body = {"serial_number": revocation.serial_number, "revocation_time": revocation.revocation_time}
    await storage.put(REVOKED + _key(revocation.serial_number), json.dumps(body).encode())


async def delete_revocation(storage: Storage, serial: str) -> None:
    await storage.delete(REVOKED + _key(serial))


async def revocations(storage: Storage) -> list[Revocation]:
    found = []
    for name in await storage.list(REVOKED):
        revocation = await load_revocation(storage, name.replace("-", ":"))
        if revocation is not None:
            found.append(revocation)
    return found
