"""Revoking certificates and the CRL that lists them. The CRL is rebuilt (and signed by the CA key, in
the token for an hsm CA) whenever a revocation changes it, and kept under crl with its number."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

from engine.backends.pki import certstore
from engine.backends.pki.ca_keys import CaKeys
from engine.backends.pki.certstore import Revocation
from engine.backends.pki.crl_config import load_crl_config
from engine.backends.pki.issuer import Issuer, load_issuer
from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import parse_duration
from engine.storage.base import Storage
from engine.tokens import Clock

CRL_KEY = "crl"
# Vault's wiggle room for leases' one-second granularity when deciding a certificate has expired.
EXPIRY_WIGGLE = timedelta(seconds=2)


class Revoker:
    def __init__(self, keys: CaKeys, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        # One rebuild at a time: each reads every revocation stored so far, so the last one written
        # lists all of them, and the CRL number only grows.
        self._rebuilding = asyncio.Lock()

    async def revoke(self, storage: Storage, serial: str) -> Revocation | None:
        """Revoke the certificate stored under `serial` (already revoked: its first revocation stands).
        None for a certificate that has expired (or will within the 2 s of a lease's granularity): as in
        Vault, it is not added to the CRL, which only needs to list certificates still valid."""
        known = await certstore.load_revocation(storage, serial)
        if known is not None:
            return known
        cert = await certstore.load_cert(storage, serial)
        if cert is None:
            raise BadRequest(f"certificate with serial {serial} not found.")
        issuer = await load_issuer(storage)
        if issuer is not None and cert.serial_number == issuer.certificate.serial_number:
            raise BadRequest("adding CA to CRL is not allowed")
        now = self._clock()
        if cert.not_valid_after_utc < now + EXPIRY_WIGGLE:
            return None
        revocation = Revocation(serial, int(now.timestamp()))
        await certstore.store_revocation(storage, revocation)
        if issuer is not None:
            await self.rebuild(storage, issuer)
        return revocation

    async def rebuild(self, storage: Storage, issuer: Issuer) -> bytes:
        async with self._rebuilding:
            return await self._rebuild(storage, issuer)

    async def _rebuild(self, storage: Storage, issuer: Issuer) -> bytes:
        previous = await storage.get(CRL_KEY)
        number = 1 if previous is None else int(json.loads(previous)["number"]) + 1
        now = self._clock()
        config = await load_crl_config(storage)
        revocations = [] if config.disable else await certstore.revocations(storage)
        revoked = [(pki_crypto.parse_serial(r.serial_number), r.when) for r in revocations]
        lifetime = timedelta(seconds=parse_duration(config.expiry))
        crl = await pki_crypto.build_crl(
            issuer.certificate, self._keys.signer(issuer.key), revoked, number, now, now + lifetime
        )
        der = pki_crypto.crl_der(crl)
        body = {"der": base64.b64encode(der).decode(), "number": number, "issuer_id": issuer.issuer_id}
        await storage.put(CRL_KEY, json.dumps(body).encode())
        return der

    async def current(self, storage: Storage) -> bytes | None:
        """The CRL's DER, built on first need or when the issuer changed; None with no issuer."""
        issuer = await load_issuer(storage)
        if issuer is None:
            return None
        stored = await storage.get(CRL_KEY)
        if stored is not None:
            body = json.loads(stored)
            if body["issuer_id"] == issuer.issuer_id:
                return base64.b64decode(body["der"])
        return await self.rebuild(storage, issuer)
