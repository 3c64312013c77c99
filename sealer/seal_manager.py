"""The seal state machine: initialise, unseal (by shares or by the token), seal.

It owns the transitions between "not initialised", "sealed" and "unsealed" and nothing else: the
barrier keeps the keys, the seal protects the root key, the core serves requests once unsealed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import constant_time_equal, new_key, shamir
from engine.errors import BadRequest, BarrierDecryptError, Sealed
from engine.storage.base import Delete, Put, Storage
from sealer import __version__
from sealer.seal_record import (
    SEAL_RECORD_KEY,
    WRAPPED_RECOVERY_KEY,
    WRAPPED_ROOT_KEY,
    SealRecord,
)
from sealer.seals.base import Seal, SealKeyInvalid, SealUnavailable
from sealer.shares import decode_share, encode_shares
from sealer.unseal_progress import UnsealProgress

log = logging.getLogger("sealer.seal")

KEY_LENGTH = 32


@dataclass(frozen=True)
class InitRequest:
    secret_shares: int | None = None
    secret_threshold: int | None = None
    recovery_shares: int | None = None
    recovery_threshold: int | None = None
    root_token_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class InitResult:
    root_token: str = field(repr=False)
    keys: list[bytes] = field(default_factory=list, repr=False)
    recovery_keys: list[bytes] = field(default_factory=list, repr=False)

    def body(self) -> dict[str, Any]:
        keys_hex, keys_b64 = encode_shares(self.keys)
        rec_hex, rec_b64 = encode_shares(self.recovery_keys)
        body: dict[str, Any] = {"keys": keys_hex, "keys_base64": keys_b64, "root_token": self.root_token}
        if self.recovery_keys:
            body["recovery_keys"] = rec_hex
            body["recovery_keys_base64"] = rec_b64
        return body


def _check_share_counts(shares: int, threshold: int, what: str) -> None:
    if shares < 1:
        raise BadRequest(f"{what} shares must be at least 1")
    if shares > 255:
        raise BadRequest(f"{what} shares cannot be more than 255 (got {shares})")
    if threshold < 1:
        raise BadRequest(f"{what} threshold must be at least 1")
    if threshold > shares:
        raise BadRequest(f"{what} threshold ({threshold}) cannot be larger than the number of shares ({shares})")
    if shares > 1 and threshold < 2:
        raise BadRequest(f"{what} threshold must be at least 2 when there is more than one share")


def _split(secret: bytes, shares: int, threshold: int) -> list[bytes]:
    # Vault's convention: a single share is the key itself.
    return [secret] if shares == 1 else shamir.split(secret, shares, threshold)


def _share_length(shares: int) -> int:
    return KEY_LENGTH if shares == 1 else KEY_LENGTH + 1


class SealManager:
    def __init__(self, storage: Storage, seal: Seal) -> None:
        self.storage = storage
        self.seal = seal
        self.barrier = Barrier(storage)
        self.core = Core(self.barrier)
        self._record: SealRecord | None = None
        self._progress = UnsealProgress()
        self._transition = asyncio.Lock()
        # Why the seal cannot unseal on its own right now (HSM unreachable, wrong PIN, ...), for status.
        self.seal_error: str | None = None
        # After an operator's sys/seal, auto-unseal stays off until recovery shares or a restart.
        self._sealed_by_operator = False
        self.unsealed_event = asyncio.Event()
        self.sealed_event = asyncio.Event()
        self.sealed_event.set()

    # -- state -------------------------------------------------------------------------------

    async def record(self) -> SealRecord | None:
        if self._record is None:
            raw = await self.storage.get(SEAL_RECORD_KEY)
            if raw is not None:
                self._record = SealRecord.from_bytes(raw)
        return self._record

    async def initialized(self) -> bool:
        return await self.record() is not None

    @property
    def sealed(self) -> bool:
        return self.barrier.sealed

    def active_core(self) -> Core:
        if self.barrier.sealed:
            raise Sealed()
        return self.core

    async def status(self) -> dict[str, Any]:
        record = await self.record()
        if record is None:
            threshold = shares = 0
        elif self.seal.auto_unseal:
            threshold, shares = record.recovery_threshold, record.recovery_shares
        else:
            threshold, shares = record.secret_threshold, record.secret_shares
        body: dict[str, Any] = {
            "type": self.seal.type,
            "initialized": record is not None,
            "sealed": self.sealed,
            "t": threshold,
            "n": shares,
            "progress": self._progress.count,
            "nonce": self._progress.nonce,
            "version": __version__,
            "build_date": "",
            "migration": False,
            "recovery_seal": self.seal.auto_unseal,
            "storage_type": type(self.storage).__name__.removesuffix("Storage").lower(),
        }
        if not self.sealed:
            body["cluster_name"] = "sealer-cluster"
            body["cluster_id"] = record.installation_id if record else ""
        if self.seal_error:
            body["seal_error"] = self.seal_error
        return body

    # -- init --------------------------------------------------------------------------------

    async def initialize(self, request: InitRequest) -> InitResult:
        async with self._transition:
            if await self.initialized():
                raise BadRequest("Vault is already initialized")
            secret_shares, secret_threshold, recovery_shares, recovery_threshold = self._init_counts(request)
            try:
                await self.seal.open()
            except SealUnavailable as exc:
                raise SealUnavailableError(str(exc)) from exc
            await self._clear_interrupted_init()

            installation_id = secrets.token_bytes(16)
            record = SealRecord(
                type=self.seal.type,
                installation_id=installation_id.hex(),
                secret_shares=secret_shares,
                secret_threshold=secret_threshold,
                recovery_shares=recovery_shares,
                recovery_threshold=recovery_threshold,
            )
            root_key = new_key()
            unseal_key = None if self.seal.auto_unseal else new_key()
            keys = [] if unseal_key is None else _split(unseal_key, secret_shares, secret_threshold)
            recovery_key = new_key() if self.seal.auto_unseal else None
            recovery_keys = (
                [] if recovery_key is None else _split(recovery_key, recovery_shares, recovery_threshold)
            )
            try:
                wrapped_root = await self.seal.wrap(root_key, record.root_key_aad, unseal_key)
                batch: list[Put | Delete] = [Put(WRAPPED_ROOT_KEY, wrapped_root)]
                if recovery_key is not None:
                    wrapped_recovery = await self.seal.wrap(recovery_key, record.recovery_key_aad, None)
                    batch.append(Put(WRAPPED_RECOVERY_KEY, wrapped_recovery))
                await self.barrier.initialize(await self.seal.barrier_key(root_key, installation_id))
                await self.barrier.unseal(await self.seal.barrier_key(root_key, installation_id))
                await self.core.setup()
                root_token = await self.core.create_root_token(request.root_token_id)
            except SealUnavailable as exc:
                await self._drop_keys()
                raise SealUnavailableError(str(exc)) from exc
            # The record goes last and with the wrapped keys: only now is the store initialised.
            batch.append(Put(SEAL_RECORD_KEY, record.to_bytes()))
            await self.storage.batch(batch)
            self._record = record
            log.info("initialised a new %s-sealed store", self.seal.type)
            if self.seal.auto_unseal:
                self._unsealed()
            else:
                # Vault leaves a shamir-sealed store sealed after init: the shares must prove themselves.
                await self._drop_keys()
            return InitResult(root_token=root_token, keys=keys, recovery_keys=recovery_keys)

    def _init_counts(self, request: InitRequest) -> tuple[int, int, int, int]:
        if self.seal.auto_unseal:
            if request.recovery_shares is None and request.secret_shares not in (None, 0):
                raise BadRequest(
                    f"parameters secret_shares,secret_threshold not applicable to seal type {self.seal.type}; "
                    "use recovery_shares and recovery_threshold"
                )
            shares = 5 if request.recovery_shares is None else request.recovery_shares
            threshold = 3 if request.recovery_threshold is None else request.recovery_threshold
            _check_share_counts(shares, threshold, "recovery")
            return 1, 1, shares, threshold
        if request.recovery_shares or request.recovery_threshold:
            raise BadRequest("parameters recovery_shares,recovery_threshold not applicable to seal type shamir")
        if request.secret_shares is None or request.secret_threshold is None:
            raise BadRequest("secret_shares and secret_threshold are required for the shamir seal")
        _check_share_counts(request.secret_shares, request.secret_threshold, "secret")
        return request.secret_shares, request.secret_threshold, 0, 0

    async def _clear_interrupted_init(self) -> None:
        """Remove what an init that died before writing the seal record left behind."""
        leftovers = await _all_keys(self.storage, "")
        if leftovers:
            log.warning("removing %d entries left by an interrupted init", len(leftovers))
            await self.storage.batch([Delete(k) for k in leftovers])

    # -- unseal ------------------------------------------------------------------------------

    async def submit_share(self, key: str | None, reset: bool) -> dict[str, Any]:
        async with self._transition:
            record = await self.record()
            if record is None:
                raise BadRequest("Vault is not initialized")
            if reset:
                self._progress.reset()
                return await self.status()
            if not self.sealed:
                return await self.status()
            if not key:
                raise BadRequest("'key' must be specified in request body as JSON, or 'reset' set to true")
            auto = self.seal.auto_unseal
            shares = record.recovery_shares if auto else record.secret_shares
            threshold = record.recovery_threshold if auto else record.secret_threshold
            self._progress.add(decode_share(key), _share_length(shares))
            if self._progress.count < threshold:
                return await self.status()
            offered = self._progress.shares
            self._progress.reset()
            combined = offered[0] if shares == 1 else _combine(offered)
            try:
                if auto:
                    await self._check_recovery_key(record, combined)
                    await self._unseal_from_device(record)
                else:
                    root_key = await self.seal.unwrap(
                        await self._stored(WRAPPED_ROOT_KEY), record.root_key_aad, combined
                    )
                    await self._open_barrier(record, root_key)
            except SealKeyInvalid as exc:
                raise BadRequest(f"{exc}; unseal progress was reset") from None
            except SealUnavailable as exc:
                raise SealUnavailableError(str(exc)) from exc
            self._sealed_by_operator = False
            return await self.status()

    async def auto_unseal(self) -> bool:
        """Unseal through the token, without people. Returns True once unsealed."""
        async with self._transition:
            if not self.sealed:
                return True
            if self._sealed_by_operator:
                return False
            record = await self.record()
            try:
                await self.seal.open()
                if record is None:
                    self.seal_error = None
                    return False
                await self._unseal_from_device(record)
            except SealUnavailable as exc:
                self.seal_error = str(exc)
                raise
            except SealKeyInvalid as exc:
                self.seal_error = str(exc)
                raise SealUnavailable(str(exc)) from exc
            return True

    async def _unseal_from_device(self, record: SealRecord) -> None:
        await self.seal.open()
        root_key = await self.seal.unwrap(await self._stored(WRAPPED_ROOT_KEY), record.root_key_aad, None)
        await self._open_barrier(record, root_key)

    async def _check_recovery_key(self, record: SealRecord, offered: bytes) -> None:
        await self.seal.open()
        stored = await self.seal.unwrap(await self._stored(WRAPPED_RECOVERY_KEY), record.recovery_key_aad, None)
        if not constant_time_equal(stored, offered):
            raise SealKeyInvalid("the recovery keys do not match this installation's recovery key")

    async def _stored(self, key: str) -> bytes:
        value = await self.storage.get(key)
        if value is None:
            raise SealUnavailable(f"storage has no '{key}': the store is damaged or belongs to another seal")
        return value

    async def _open_barrier(self, record: SealRecord, root_key: bytes) -> None:
        barrier_key = await self.seal.barrier_key(root_key, record.installation_bytes)
        try:
            await self.barrier.unseal(barrier_key)
        except BarrierDecryptError:
            raise SealKeyInvalid(
                "the barrier keyring does not open with this root key "
                "(for the pkcs11 seal: is the HMAC key the one this installation was initialised with?)"
            ) from None
        await self.core.setup()
        self._unsealed()

    def _unsealed(self) -> None:
        self.seal_error = None
        self.sealed_event.clear()
        self.unsealed_event.set()
        log.info("unsealed")

    # -- what ceremonies (rekey, generate-root) build on --------------------------------------

    def share_rules(self, record: SealRecord) -> tuple[int, int, int]:
        """(shares, threshold, share length) of the shares people hold for this seal: unseal shares for
        the shamir seal, recovery shares for an auto-unseal seal."""
        if self.seal.auto_unseal:
            return record.recovery_shares, record.recovery_threshold, _share_length(record.recovery_shares)
        return record.secret_shares, record.secret_threshold, _share_length(record.secret_shares)

    async def key_from_shares(self, shares: list[bytes]) -> bytes:
        """Combine people's shares and prove them: the unseal key must open the stored root key (shamir),
        the recovery key must equal the stored one (auto-unseal). Raises BadRequest otherwise."""
        record = await self._require_record()
        count = self.share_rules(record)[0]
        combined = shares[0] if count == 1 else _combine(shares)
        try:
            if self.seal.auto_unseal:
                await self._check_recovery_key(record, combined)
            else:
                await self.seal.unwrap(await self._stored(WRAPPED_ROOT_KEY), record.root_key_aad, combined)
        except SealKeyInvalid as exc:
            raise BadRequest(str(exc)) from None
        except SealUnavailable as exc:
            raise SealUnavailableError(str(exc)) from exc
        return combined

    async def replace_shared_key(self, proven_key: bytes, shares: int, threshold: int) -> list[bytes]:
        """Commit a rekey: a new unseal key (shamir; the root key is re-wrapped under it) or a new
        recovery key (auto-unseal), split into `shares`. One atomic batch: afterwards only the new shares
        work. `proven_key` is the current key, as returned by key_from_shares."""
        record = await self._require_record()
        what = "recovery" if self.seal.auto_unseal else "secret"
        _check_share_counts(shares, threshold, what)
        new_key_ = new_key()
        try:
            if self.seal.auto_unseal:
                new_record = replace(record, recovery_shares=shares, recovery_threshold=threshold)
                wrapped = await self.seal.wrap(new_key_, record.recovery_key_aad, None)
                batch = [Put(WRAPPED_RECOVERY_KEY, wrapped)]
            else:
                root_key = await self.seal.unwrap(await self._stored(WRAPPED_ROOT_KEY), record.root_key_aad,
                                                  proven_key)
                new_record = replace(record, secret_shares=shares, secret_threshold=threshold)
                wrapped = await self.seal.wrap(root_key, record.root_key_aad, new_key_)
                batch = [Put(WRAPPED_ROOT_KEY, wrapped)]
        except SealKeyInvalid as exc:
            raise BadRequest(str(exc)) from None
        except SealUnavailable as exc:
            raise SealUnavailableError(str(exc)) from exc
        batch.append(Put(SEAL_RECORD_KEY, new_record.to_bytes()))
        await self.storage.batch(batch)
        self._record = new_record
        log.info("rekeyed: %d new %s shares, threshold %d; the old shares no longer work", shares, what, threshold)
        return _split(new_key_, shares, threshold)

    async def _require_record(self) -> SealRecord:
        record = await self.record()
        if record is None:
            raise BadRequest("Vault is not initialized")
        return record

    # -- seal --------------------------------------------------------------------------------

    async def seal_now(self) -> None:
        async with self._transition:
            await self._drop_keys()
            self._sealed_by_operator = True
            log.info("sealed by an operator request")

    async def _drop_keys(self) -> None:
        await self.core.teardown()
        self.barrier.seal()
        self.unsealed_event.clear()
        self.sealed_event.set()


class SealUnavailableError(Sealed):
    """Init or unseal needs the seal's device and cannot reach it: 503 with the cause."""


def _combine(shares: list[bytes]) -> bytes:
    try:
        return shamir.combine(shares)
    except shamir.ShamirError as exc:
        raise BadRequest(f"the unseal keys cannot be combined: {exc}; unseal progress was reset") from None


async def _all_keys(storage: Storage, prefix: str) -> list[str]:
    found: list[str] = []
    for name in await storage.list(prefix):
        if name.endswith("/"):
            found.extend(await _all_keys(storage, prefix + name))
        else:
            found.append(prefix + name)
    return found


__all__ = ["InitRequest", "InitResult", "SealManager", "SealUnavailableError"]
