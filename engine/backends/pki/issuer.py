"""The mount's one issuer (Vault before 1.11: one CA per mount): its certificate, the chain above it and
its key record, stored under ca/. An intermediate's key waits under ca/pending_key until its signed
certificate is set."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from engine.backends.pki.ca_keys import KeyRecord
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.storage.base import Storage

ISSUER_KEY = "ca/issuer"
PENDING_KEY = "ca/pending_key"
NO_ISSUER = "no default issuer currently configured; generate a root or set a signed intermediate first"


@dataclass(frozen=True)
class Issuer:
    issuer_id: str
    certificate_pem: str
    # The certificates above this one, nearest first (empty for a root).
    parents_pem: tuple[str, ...]
    key: KeyRecord = field(repr=False)

    @property
    def certificate(self) -> x509.Certificate:
        return pki_crypto.load_cert(self.certificate_pem)

    @property
    def chain_pem(self) -> list[str]:
        """Vault's ca_chain: the issuer then its parents."""
        return [self.certificate_pem, *self.parents_pem]

    def to_json(self) -> dict[str, Any]:
        return {
            "issuer_id": self.issuer_id,
            "certificate": self.certificate_pem,
            "parents": list(self.parents_pem),
            "key": self.key.to_json(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Issuer:
        return cls(raw["issuer_id"], raw["certificate"], tuple(raw["parents"]), KeyRecord.from_json(raw["key"]))

    @classmethod
    def new(cls, certificate: x509.Certificate, parents: list[str], key: KeyRecord) -> Issuer:
        return cls(str(uuid.uuid4()), pki_crypto.cert_pem(certificate), tuple(parents), key)


async def load_issuer(storage: Storage) -> Issuer | None:
    raw = await storage.get(ISSUER_KEY)
    return None if raw is None else Issuer.from_json(json.loads(raw))


async def require_issuer(storage: Storage) -> Issuer:
    issuer = await load_issuer(storage)
    if issuer is None:
        raise BadRequest(NO_ISSUER)
    return issuer


async def save_issuer(storage: Storage, issuer: Issuer) -> None:
    await storage.put(ISSUER_KEY, json.dumps(issuer.to_json()).encode())


async def load_pending_key(storage: Storage) -> KeyRecord | None:
    raw = await storage.get(PENDING_KEY)
    return None if raw is None else KeyRecord.from_json(json.loads(raw))


async def save_pending_key(storage: Storage, key: KeyRecord) -> None:
    await storage.put(PENDING_KEY, json.dumps(key.to_json()).encode())
