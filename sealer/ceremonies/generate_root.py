"""Generate root: a new root token minted once a threshold of key holders agree, as Vault's
sys/generate-root. The shares are unseal shares (shamir seal) or recovery shares (auto-unseal); the
token leaves the daemon only encoded: XORed with a one-time password, or encrypted to a PGP key.

Without an OTP or a PGP key in the request, the daemon makes the OTP and answers it once, in the start
response (Vault 1.10+); it is never shown again.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadRequest
from engine.request import Op, Request
from engine.tokens.store import TOKEN_PREFIX, TOKEN_RANDOM_CHARS
from sealer import pgp
from sealer.ceremonies import journal
from sealer.ceremonies.otp import encode_token, generate_otp
from sealer.ceremonies.readiness import unsealed_rules
from sealer.ceremonies.shares import ShareCollector, collect, prove
from sealer.seal_manager import SealManager
from sealer.seal_record import SealRecord

KIND = "generate-root"
# Vault's OTP is exactly as long as a token (TokenLength + TokenPrefixLength): the XOR needs it.
OTP_LENGTH = len(TOKEN_PREFIX) + TOKEN_RANDOM_CHARS


@dataclass
class _Attempt:
    nonce: str
    otp: str = field(default="", repr=False)
    pgp_key: str = field(default="", repr=False)
    pgp_fingerprint: str = ""
    progress: ShareCollector = field(default_factory=ShareCollector)


class GenerateRoot:
    def __init__(self, manager: SealManager) -> None:
        self.manager = manager
        self._attempt: _Attempt | None = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> tuple[SealRecord, int, int]:
        """The seal record and the (threshold, share length) of the shares people hold; the daemon
        must be unsealed."""
        return unsealed_rules(self.manager, await self.manager.record(), self._discard)

    async def discard(self, reason: str) -> None:
        """End the attempt in progress, if any, once no step of it is running."""
        async with self._lock:
            self._discard(reason)

    def _discard(self, reason: str) -> None:
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            journal.step(KIND, attempt.nonce, f"discarded: {reason}")

    def _status(self, required: int, otp: str = "") -> dict[str, Any]:
        attempt = self._attempt
        return {
            "nonce": attempt.nonce if attempt else "",
            "started": attempt is not None,
            "progress": attempt.progress.count if attempt else 0,
            "required": required,
            "complete": False,
            "encoded_token": "",
            "encoded_root_token": "",
            "pgp_fingerprint": attempt.pgp_fingerprint if attempt else "",
            "otp": otp,
            "otp_length": OTP_LENGTH,
        }

    async def status(self) -> dict[str, Any]:
        async with self._lock:
            _, threshold, _ = await self._ready()
            return self._status(threshold)

    async def start(self, otp: str = "", pgp_key: str = "") -> dict[str, Any]:
        async with self._lock:
            generated = not otp and not pgp_key
            if generated:
                otp = generate_otp(OTP_LENGTH)
            fingerprint = ""
            if otp:
                # As in Vault, an OTP wins over a PGP key given alongside it.
                pgp_key = ""
                if len(otp) != OTP_LENGTH:
                    raise BadRequest("OTP string is wrong length")
            else:
                fingerprint = await pgp.check_key_async(pgp_key, "pgp_key")
            _, threshold, _ = await self._ready()
            if self._attempt is not None:
                raise BadRequest("root generation already in progress")
            self._attempt = _Attempt(nonce=str(uuid.uuid4()), otp=otp, pgp_key=pgp_key, pgp_fingerprint=fingerprint)
            method = "generated OTP" if generated else ("OTP" if otp else f"PGP key {fingerprint}")
            journal.step(KIND, self._attempt.nonce, "started", token_encoded_with=method, required=threshold)
            return self._status(threshold, otp if generated else "")

    async def cancel(self) -> None:
        async with self._lock:
            await self._ready()
            self._discard("canceled")

    async def update(self, share: bytes, nonce: str) -> dict[str, Any]:
        async with self._lock:
            record, threshold, length = await self._ready()
            attempt = self._attempt
            if attempt is None:
                raise BadRequest("no root generation in progress")
            count = collect(KIND, attempt.nonce, "root generation", attempt.progress, share, nonce,
                            length=length, threshold=threshold, duplicate_operation="generation")
            result = {**self._status(threshold), "otp_length": 0}
            if count < threshold:
                return result
            encoded = await self._complete(attempt, record)
            return {**result, "complete": True, "encoded_token": encoded, "encoded_root_token": encoded}

    async def _complete(self, attempt: _Attempt, record: SealRecord) -> str:
        offered = attempt.progress.take()
        what = "recovery key" if record.auto_unseal else "root key"
        try:
            await prove(offered, self.manager.key_from_shares)
        except BadRequest as exc:
            journal.step(KIND, attempt.nonce, f"failed: the shares do not prove the {what}; progress reset")
            raise BadRequest(f"root generation aborted: {what} verification failed: {exc.message}") from None
        core = self.manager.active_core()
        token = await core.create_root_token()
        try:
            if attempt.otp:
                encoded = encode_token(token, attempt.otp)
            else:
                encoded, _ = await pgp.encrypt_token_async(attempt.pgp_key, token, "pgp_key")
        except Exception:
            # A token nobody can read must not stay valid.
            await core.handle(Request(op=Op.UPDATE, path="auth/token/revoke-self", client_token=token))
            journal.step(KIND, attempt.nonce, "failed: the new token could not be encoded; it was revoked")
            raise
        self._attempt = None
        journal.step(KIND, attempt.nonce, "completed: a new root token was generated")
        return encoded


__all__ = ["KIND", "OTP_LENGTH", "GenerateRoot"]
