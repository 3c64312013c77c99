"""Rekey: new shares for the key people hold, as Vault's sys/rekey (unseal shares, shamir seal) and
sys/rekey-recovery-key (recovery shares, auto-unseal seals).

One attempt per target at a time, bound to a nonce. A threshold of the current shares proves the
current key; a new key is then made and split. Without verification it is committed at once. With
verification the new key stays in memory until a threshold of the new shares is presented (under a
second nonce), and only then replaces the old one: until that commit, the old shares keep working,
and a cancel, a seal or a restart leaves them as they were.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.crypto import ShamirError, combine, constant_time_equal, new_key
from engine.errors import BadRequest
from sealer import pgp
from sealer.ceremonies import journal
from sealer.ceremonies.backup import KeyBackup
from sealer.ceremonies.readiness import unsealed_rules
from sealer.ceremonies.shares import (
    KEY_LENGTH,
    SHARE_LENGTH,
    ShareCollector,
    check_counts,
    collect,
    prove,
    split_key,
)
from sealer.seal_manager import SealManager
from sealer.seal_record import SealRecord


class Target(enum.Enum):
    BARRIER = "barrier"    # sys/rekey: the unseal key's shares (shamir seal)
    RECOVERY = "recovery"  # sys/rekey-recovery-key: the recovery key's shares (auto-unseal seals)


@dataclass(frozen=True)
class RekeyRequest:
    secret_shares: int
    secret_threshold: int
    pgp_keys: tuple[str, ...] = field(default=(), repr=False)
    backup: bool = False
    require_verification: bool = False


@dataclass
class _Attempt:
    nonce: str
    shares: int
    threshold: int
    pgp_keys: tuple[str, ...] = field(repr=False)
    pgp_fingerprints: list[str]
    backup: bool
    verification_required: bool
    progress: ShareCollector = field(default_factory=ShareCollector)
    verification_nonce: str = ""
    verification_progress: ShareCollector = field(default_factory=ShareCollector)
    # Set once the current shares were proven and verification is pending.
    new_key: bytes | None = field(default=None, repr=False)
    proven_key: bytes | None = field(default=None, repr=False)

    @property
    def new_share_length(self) -> int:
        return KEY_LENGTH if self.shares == 1 else SHARE_LENGTH


def _nonce() -> str:
    return str(uuid.uuid4())


class Rekey:
    def __init__(self, manager: SealManager, target: Target) -> None:
        self.manager = manager
        self.target = target
        self.kind = "rekey" if target is Target.BARRIER else "rekey-recovery-key"
        self.backups = KeyBackup(manager.storage, target.value)
        self._attempt: _Attempt | None = None
        self._lock = asyncio.Lock()

    # -- guards ------------------------------------------------------------------------------

    async def _ready(self) -> tuple[SealRecord, int, int]:
        """The seal record and the (threshold, share length) of the shares people hold now: unseal shares
        for the shamir seal, recovery shares for an auto-unseal one. The daemon must be unsealed."""
        record = await self.manager.record()
        auto_unseal = record.auto_unseal if record is not None else self.manager.seal.auto_unseal
        if self.target is Target.RECOVERY and not auto_unseal:
            raise BadRequest("recovery rekeying not supported")
        return unsealed_rules(self.manager, record, self._discard)

    async def discard(self, reason: str) -> None:
        """End the attempt in progress, if any, once no step of it is running."""
        async with self._lock:
            self._discard(reason)

    def _discard(self, reason: str) -> None:
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            journal.step(self.kind, attempt.nonce, f"discarded: {reason}; the current shares stay valid")

    # -- sys/rekey/init ----------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        async with self._lock:
            _, threshold, _ = await self._ready()
            return self._status(threshold)

    def _status(self, required: int) -> dict[str, Any]:
        attempt = self._attempt
        body: dict[str, Any] = {
            "nonce": "", "started": False, "t": 0, "n": 0, "progress": 0, "required": required,
            "pgp_fingerprints": None, "backup": False, "verification_required": False,
        }
        if attempt is not None:
            body.update(nonce=attempt.nonce, started=True, t=attempt.threshold, n=attempt.shares,
                        progress=attempt.progress.count, verification_required=attempt.verification_required)
            if attempt.pgp_fingerprints:
                body.update(pgp_fingerprints=attempt.pgp_fingerprints, backup=attempt.backup)
            if attempt.verification_nonce:
                body["verification_nonce"] = attempt.verification_nonce
        return body

    async def start(self, request: RekeyRequest) -> dict[str, Any]:
        async with self._lock:
            record, threshold, _ = await self._ready()
            if self.target is Target.BARRIER and record.auto_unseal:
                raise BadRequest(
                    f"rekeying the root key is not supported with the {record.type} seal; "
                    "rekey the recovery keys instead (sys/rekey-recovery-key, "
                    "`sealer operator rekey -target=recovery`)"
                )
            if request.backup and not request.pgp_keys:
                raise BadRequest("cannot request a backup of the new keys without providing PGP keys for encryption")
            if request.pgp_keys and len(request.pgp_keys) != request.secret_shares:
                raise BadRequest("incorrect number of PGP keys for rekey")
            check_counts(request.secret_shares, request.secret_threshold)
            fingerprints = await pgp.check_keys_async(request.pgp_keys) if request.pgp_keys else []
            if self._attempt is not None:
                raise BadRequest("rekey already in progress")
            self._attempt = _Attempt(
                nonce=_nonce(),
                shares=request.secret_shares,
                threshold=request.secret_threshold,
                pgp_keys=request.pgp_keys,
                pgp_fingerprints=fingerprints,
                backup=request.backup,
                verification_required=request.require_verification,
            )
            journal.step(self.kind, self._attempt.nonce, "started",
                         new_shares=request.secret_shares, new_threshold=request.secret_threshold,
                         verification_required=request.require_verification,
                         pgp_keys=len(request.pgp_keys), backup=request.backup)
            return self._status(threshold)

    async def cancel(self) -> None:
        async with self._lock:
            await self._ready()
            self._discard("canceled")

    # -- sys/rekey/update --------------------------------------------------------------------

    async def update(self, share: bytes, nonce: str) -> dict[str, Any]:
        async with self._lock:
            record, threshold, length = await self._ready()
            attempt = self._attempt
            if attempt is None:
                raise BadRequest(f"no {self.target.value} rekey in progress")
            if attempt.new_key is not None:
                raise BadRequest(
                    "rekey operation already finished; verification must be performed; "
                    f'nonce for the verification operation is "{attempt.verification_nonce}"'
                )
            count = collect(self.kind, attempt.nonce, "rekey", attempt.progress, share, nonce,
                            length=length, threshold=threshold, duplicate_operation="rekey")
            if count < threshold:
                return self._status(threshold)
            return await self._complete(attempt, record)

    async def _complete(self, attempt: _Attempt, record: SealRecord) -> dict[str, Any]:
        offered = attempt.progress.take()
        what = "recovery key" if record.auto_unseal else "root key"
        try:
            proven = await prove(offered, self.manager.key_from_shares)
        except BadRequest as exc:
            journal.step(self.kind, attempt.nonce, f"failed: the shares do not prove the current {what}; "
                                                   "progress reset")
            raise BadRequest(f"{what} verification failed: {exc.message}; rekey progress was reset") from None
        key = new_key()
        shares = split_key(key, attempt.shares, attempt.threshold)
        delivered = shares
        if attempt.pgp_keys:
            messages, _ = await pgp.encrypt_shares_async(attempt.pgp_keys, shares,
                                                         mismatch="incorrect number of PGP keys for rekey")
            delivered = [base64.b64decode(message) for message in messages]
        if attempt.backup:
            await self.backups.store(attempt.nonce, attempt.pgp_fingerprints, delivered)
        result: dict[str, Any] = {
            "nonce": attempt.nonce,
            "complete": True,
            "keys": [s.hex() for s in delivered],
            "keys_base64": [base64.b64encode(s).decode() for s in delivered],
            "pgp_fingerprints": attempt.pgp_fingerprints or None,
            "backup": attempt.backup,
            "verification_required": attempt.verification_required,
        }
        if attempt.verification_required:
            attempt.new_key, attempt.proven_key = key, proven
            attempt.verification_nonce = _nonce()
            result["verification_nonce"] = attempt.verification_nonce
            journal.step(self.kind, attempt.nonce, "current shares proven; new shares issued, pending verification",
                         verification_nonce=attempt.verification_nonce)
            return result
        await self._commit(attempt, proven, key)
        return result

    async def _commit(self, attempt: _Attempt, proven: bytes, key: bytes) -> None:
        self._attempt = None
        try:
            await self.manager.replace_shared_key(proven, attempt.shares, attempt.threshold, new_shared_key=key)
        except Exception as exc:
            journal.step(self.kind, attempt.nonce, f"failed to commit the new key: {exc}; "
                                                   "the current shares stay valid")
            raise
        journal.step(self.kind, attempt.nonce, "completed: the new shares are in effect, the old ones no longer work",
                     shares=attempt.shares, threshold=attempt.threshold)

    # -- sys/rekey/verify --------------------------------------------------------------------

    def _verification_status(self) -> dict[str, Any]:
        attempt = self._attempt
        if attempt is None:
            raise BadRequest("no rekey configuration found")
        return {
            "nonce": attempt.verification_nonce,
            "started": attempt.new_key is not None,
            "t": attempt.threshold,
            "n": attempt.shares,
            "progress": attempt.verification_progress.count,
        }

    async def verification_status(self) -> dict[str, Any]:
        async with self._lock:
            await self._ready()
            return self._verification_status()

    async def restart_verification(self) -> dict[str, Any]:
        async with self._lock:
            await self._ready()
            attempt = self._attempt
            if attempt is not None:
                attempt.verification_progress.clear()
                if attempt.new_key is not None:
                    attempt.verification_nonce = _nonce()
                journal.step(self.kind, attempt.nonce, "verification restarted",
                             verification_nonce=attempt.verification_nonce or "-")
            return self._verification_status()

    async def verify(self, share: bytes, nonce: str) -> dict[str, Any]:
        async with self._lock:
            await self._ready()
            attempt = self._attempt
            if attempt is None:
                raise BadRequest("no rekey in progress")
            new, proven = attempt.new_key, attempt.proven_key
            if new is None or proven is None:
                raise BadRequest("no rekey verification in progress")
            kind = f"{self.kind} verification"
            count = collect(kind, attempt.verification_nonce, "verify", attempt.verification_progress, share,
                            nonce, length=attempt.new_share_length, threshold=attempt.threshold,
                            duplicate_operation="verify")
            if count < attempt.threshold:
                return self._verification_status()
            offered = attempt.verification_progress.take()
            if not _rebuilds(offered, new):
                old_nonce, attempt.verification_nonce = attempt.verification_nonce, _nonce()
                journal.step(kind, old_nonce, "failed: incorrect new shares; verification progress reset",
                             next_verification_nonce=attempt.verification_nonce)
                raise BadRequest("rekey verification failed; incorrect key shares supplied")
            journal.step(kind, attempt.verification_nonce, "new shares verified")
            await self._commit(attempt, proven, new)
            return {"nonce": attempt.verification_nonce, "complete": True}


def _rebuilds(offered: list[bytes], key: bytes) -> bool:
    if len(offered) == 1:
        return constant_time_equal(offered[0], key)
    try:
        return constant_time_equal(combine(offered), key)
    except ShamirError:
        return False
