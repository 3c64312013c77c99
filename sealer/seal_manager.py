"""The seal state machine: initialise, unseal (by shares, by a token, by a seal migration or by
break-glass), seal, and the upkeep of the seal's keys while unsealed.

It owns the transitions between "not initialised", "sealed" and "unsealed": the barrier keeps the keys,
the seal protects the root key (its stored copies: sealer/seal_record.py, sealer/seal_wrappings.py),
the core serves requests once unsealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import constant_time_equal, new_key
from engine.errors import BadRequest, BarrierDecryptError, Sealed
from engine.storage.base import BatchOp, Delete, Put, Storage
from sealer import __version__, seal_init, seal_migration, seal_report, seal_upkeep
from sealer import seal_break_glass as break_glass
from sealer import seal_shares as shares_
from sealer import seal_wrappings as wrappings
from sealer.crash_points import crash_point
from sealer.seal_record import BREAK_GLASS_KEY, SEAL_RECORD_KEY, SealRecord
from sealer.seal_wrappings import Unwrapped
from sealer.seals import envelopes
from sealer.seals.base import Seal, SealKeyInvalid, SealOptions, SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet
from sealer.shares import decode_share, encode_shares
from sealer.transit_token import token_keys_for
from sealer.unseal_progress import UnsealProgress

log = logging.getLogger("sealer.seal")


@dataclass(frozen=True)
class InitRequest:
    secret_shares: int | None = None
    secret_threshold: int | None = None
    recovery_shares: int | None = None
    recovery_threshold: int | None = None
    root_token_id: str | None = field(default=None, repr=False)
    # Applied to the result before init commits (e.g. PGP-encrypting the shares and root token): if it
    # raises, init is abandoned and the store stays uninitialised, so no share is ever lost.
    protect: Callable[[InitResult], Awaitable[InitResult]] | None = field(default=None, repr=False, compare=False)
    # Hands the result over once init has committed and before the daemon reports itself unsealed (e.g.
    # auto_init's output file), so whoever sees it unsealed also finds the secrets where they were promised.
    deliver: Callable[[InitResult], Awaitable[None]] | None = field(default=None, repr=False, compare=False)


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


class SealManager:
    """The seal's state machine. `seal` is the seal in force (ShamirSeal, or the pkcs11 TokenSet; a lone
    Pkcs11Seal is taken as a set of one); `migrate_from` is a seal the configuration marks disabled, to
    migrate away from (Vault's seal migration); `options` says how the seal's keys are looked after."""

    def __init__(self, storage: Storage, seal: Seal | Pkcs11Seal, *, migrate_from: Seal | Pkcs11Seal | None = None,
                 options: SealOptions | None = None, ha: bool = False,
                 init_guard: Callable[[], contextlib.AbstractAsyncContextManager[None]] | None = None) -> None:
        self.storage = storage
        self.seal: Seal = _as_seal(seal)
        self.migrate_from: Seal | None = None if migrate_from is None else _as_seal(migrate_from)
        self.options = options or SealOptions()
        self.barrier = Barrier(storage)
        self.core = Core(self.barrier, token_keys=token_keys_for(self.seal))
        self._record: SealRecord | None = None
        self._progress = UnsealProgress()
        self._transition = asyncio.Lock()
        # Every write of the record while unsealed (rekey, rotation, upkeep) goes through this lock; a
        # transition that writes it takes it inside the transition lock, never the other way round.
        self._record_lock = asyncio.Lock()
        # The root key, while unsealed: what wraps it under a token that comes back.
        self._root_key: bytes | None = None
        self._break_glass_active = False
        self._migration_noted = False
        # Why the seal cannot unseal on its own right now (HSM unreachable, wrong PIN, ...), for status.
        self.seal_error: str | None = None
        # After an operator's sys/seal, auto-unseal stays off until recovery shares or a restart.
        self._sealed_by_operator = False
        # `unsealed_event` means serving: the core is set up (with HA, only on the active daemon).
        self.unsealed_event = asyncio.Event()
        self.sealed_event = asyncio.Event()
        self.sealed_event.set()
        # HA: the barrier is open but another daemon is the active one; the core stays down here.
        self.ha = ha
        # Several daemons on one storage must not initialise it twice: init runs inside this guard.
        self._init_guard = init_guard or _no_guard
        self.standby = False
        self.standby_event = asyncio.Event()

    def __repr__(self) -> str:
        return f"<SealManager seal={self.seal.type} sealed={self.sealed}>"

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
        # Unsealed only once the core is set up too: between the barrier opening and the core loading its
        # mounts, tokens and leases, a request would otherwise pass health checks and then meet a 503.
        return self.barrier.sealed or not (self.unsealed_event.is_set() or self.standby)

    @property
    def tokens(self) -> TokenSet | None:
        """The pkcs11 seal's tokens, when that is the seal in force."""
        return self.seal if isinstance(self.seal, TokenSet) else None

    def active_core(self) -> Core:
        if self.sealed or self.standby:
            raise Sealed()
        return self.core

    def migration_plan(self, record: SealRecord) -> seal_migration.Plan | None:
        """The seal migration this configuration asks of this store, if any. SealMismatch when the
        store is sealed by a seal the configuration does not name at all."""
        if record.type == self.seal.type:
            return None
        if record.type == "shamir":
            # As in Vault, migrating from shamir needs no configuration block: the shares are enough.
            return seal_migration.Plan("shamir", self.seal.type)
        if isinstance(self.migrate_from, TokenSet):
            return seal_migration.Plan(record.type, self.seal.type, self.migrate_from)
        raise SealMismatch(
            f"the store is sealed by the {record.type} seal, which the configuration does not name: put its "
            f"block back (marked `disabled: true` to migrate to {self.seal.type})"
        )

    async def status(self) -> dict[str, Any]:
        record = await self.record()
        plan, mismatch = None, None
        if record is not None:
            try:
                plan = self.migration_plan(record)
            except SealMismatch as exc:
                mismatch = exc.message
        threshold = shares = 0
        if record is not None:
            shares, threshold, _ = self.share_rules(record)
        body: dict[str, Any] = {
            "type": record.type if record else self.seal.type,
            "initialized": record is not None,
            "sealed": self.sealed,
            "t": threshold,
            "n": shares,
            "progress": self._progress.count,
            "nonce": self._progress.nonce,
            "version": __version__,
            "build_date": "",
            "migration": plan is not None,
            "recovery_seal": record.auto_unseal if record else self.seal.auto_unseal,
            "storage_type": type(self.storage).__name__.removesuffix("Storage").lower(),
        }
        if not self.sealed:
            body["cluster_name"] = "sealer-cluster"
            body["cluster_id"] = record.installation_id if record else ""
        error = mismatch or self.seal_error
        if error:
            body["seal_error"] = error
        body.update(seal_report.report(record, self.seal, self.migrate_from, self.options,
                                       break_glass_active=self._break_glass_active))
        return body

    # -- init --------------------------------------------------------------------------------

    async def initialize(self, request: InitRequest) -> InitResult:
        async with self._transition, self._init_guard():
            if await self.initialized():
                raise AlreadyInitialized("Vault is already initialized")
            if self.migrate_from is not None:
                log.warning("initialising with the %s seal; the disabled %s block has nothing to migrate and can "
                            "be removed", self.seal.type, self.migrate_from.type)
            secret_shares, secret_threshold, recovery_shares, recovery_threshold = self._init_counts(request)
            try:
                await self.seal.open()
            except SealUnavailable as exc:
                raise SealUnavailableError(str(exc)) from exc
            await self._clear_interrupted_init()

            auto = self.seal.auto_unseal
            installation_id = secrets.token_bytes(16)
            record = SealRecord(
                type=self.seal.type,
                installation_id=installation_id.hex(),
                secret_shares=secret_shares,
                secret_threshold=secret_threshold,
                recovery_shares=recovery_shares,
                recovery_threshold=recovery_threshold,
                break_glass=auto and self.options.break_glass,
            )
            root_key = new_key()
            unseal_key = None if auto else new_key()
            keys = [] if unseal_key is None else shares_.split(unseal_key, secret_shares, secret_threshold)
            recovery_key = new_key() if auto else None
            recovery_keys = (
                [] if recovery_key is None else shares_.split(recovery_key, recovery_shares, recovery_threshold)
            )
            try:
                record, batch = await seal_init.wrappings_at_init(record, self.tokens, root_key, unseal_key,
                                                                   recovery_key)
                barrier_key = envelopes.barrier_key(root_key, installation_id)
                await self.barrier.initialize(barrier_key)
                await self.barrier.unseal(barrier_key)
                await self.core.setup()
                root_token = await self.core.create_root_token(request.root_token_id)
            except SealUnavailable as exc:
                await self._drop_keys()
                raise SealUnavailableError(str(exc)) from exc
            result = InitResult(root_token=root_token, keys=keys, recovery_keys=recovery_keys)
            if request.protect is not None:
                try:
                    result = await request.protect(result)
                except BaseException:
                    await self._drop_keys()
                    raise
            # The record goes last and with the wrapped keys: only now is the store initialised.
            batch.append(Put(SEAL_RECORD_KEY, record.to_bytes()))
            await self.storage.batch(batch)
            self._record = record
            log.info("initialised a new %s-sealed store (%d wrapping(s) of the root key%s)", self.seal.type,
                     len(record.wrappings), ", break-glass on" if record.break_glass else "")
            if request.deliver is not None:
                await request.deliver(result)
            if auto:
                self._root_key = root_key
                if self.ha:
                    await self.core.teardown()  # it served only to make the root token: the lock holder serves
                    self._standby()
                else:
                    self._unsealed()
            else:
                # Vault leaves a shamir-sealed store sealed after init: the shares must prove themselves.
                await self._drop_keys()
            return result

    def _init_counts(self, request: InitRequest) -> tuple[int, int, int, int]:
        if self.seal.auto_unseal:
            if request.recovery_shares is None and request.secret_shares not in (None, 0):
                raise BadRequest(
                    f"parameters secret_shares,secret_threshold not applicable to seal type {self.seal.type}; "
                    "use recovery_shares and recovery_threshold"
                )
            shares = 5 if request.recovery_shares is None else request.recovery_shares
            threshold = 3 if request.recovery_threshold is None else request.recovery_threshold
            shares_.check_counts(shares, threshold, "recovery")
            return 1, 1, shares, threshold
        if request.recovery_shares or request.recovery_threshold:
            raise BadRequest("parameters recovery_shares,recovery_threshold not applicable to seal type shamir")
        if request.secret_shares is None or request.secret_threshold is None:
            raise BadRequest("secret_shares and secret_threshold are required for the shamir seal")
        shares_.check_counts(request.secret_shares, request.secret_threshold, "secret")
        return request.secret_shares, request.secret_threshold, 0, 0

    async def _clear_interrupted_init(self) -> None:
        """Remove what an init that died before writing the seal record left behind."""
        leftovers = await _all_keys(self.storage, "")
        if leftovers:
            log.warning("removing %d entries left by an interrupted init", len(leftovers))
            await self.storage.batch([Delete(k) for k in leftovers])

    # -- unseal ------------------------------------------------------------------------------

    async def submit_share(self, key: str | None, reset: bool, *, migrate: bool = False) -> dict[str, Any]:
        """One share towards unsealing (Vault's sys/unseal). With `migrate`, the shares are the old
        seal's and a pending seal migration runs once they reach the threshold."""
        async with self._transition:
            record = await self.record()
            if record is None:
                raise BadRequest("Vault is not initialized")
            if reset:
                self._progress.reset()
                return await self.status()
            if not self.sealed:
                return await self.status()
            plan = self.migration_plan(record)
            if migrate and plan is None:
                raise BadRequest("can't perform a seal migration, no migration seal found")
            if plan is not None and not migrate:
                raise BadRequest("migrate option not provided and seal migration is pending")
            if not key:
                raise BadRequest("'key' must be specified in request body as JSON, or 'reset' set to true")
            shares, threshold, length = self.share_rules(record)
            self._progress.add(decode_share(key), length)
            log.info("unseal key %d of %d accepted%s", self._progress.count, threshold,
                     " (seal migration)" if plan else "")
            if self._progress.count < threshold:
                return await self.status()
            offered = self._progress.shares
            self._progress.reset()
            combined = shares_.combine(offered, shares)
            try:
                if plan is not None:
                    await self._migrate(record, plan, combined)
                elif not record.auto_unseal:
                    root_key = await wrappings.unwrap_shamir(self.storage, record, combined)
                    await self._open_barrier(record, Unwrapped(root_key))
                else:
                    await self._unseal_with_recovery_key(record, combined)
            except SealKeyInvalid as exc:
                log.warning("unseal failed: %s", exc)
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
            if record is not None and self._pending_migration(record):
                return False
            tokens = self.tokens
            if tokens is None:
                return False
            try:
                if record is None:
                    await tokens.open()  # report a token that cannot be used before anyone initialises
                    self.seal_error = None
                    return False
                await tokens.try_open()
                await self._open_barrier(record, await wrappings.unwrap_with_tokens(self.storage, record, tokens))
            except SealUnavailable as exc:
                self.seal_error = str(exc)
                raise
            except SealKeyInvalid as exc:
                self.seal_error = str(exc)
                raise SealUnavailable(str(exc)) from exc
            return True

    async def change_sealed(self, change: Callable[[SealRecord], Awaitable[SealRecord]]) -> bool:
        """A change to the stored seal that recovery shares authorised, made sealed or not (the tpm2 seal's
        reseal, sealer/seal_tpm_reseal.py): `change` writes the new record and returns it; then the daemon
        unseals through it. True once unsealed."""
        async with self._transition, self._record_lock:
            self._record = None  # read afresh: `change` may fail after writing
            self._record = await change(await self._require_record())
            self._sealed_by_operator = False
        return await self.auto_unseal()

    def _pending_migration(self, record: SealRecord) -> bool:
        try:
            plan = self.migration_plan(record)
        except SealMismatch as exc:
            self.seal_error = exc.message
            return True
        if plan is not None and not self._migration_noted:
            self._migration_noted = True
            log.warning(
                "entering seal migration mode: the store is sealed by the %s seal and the configuration has the "
                "%s seal in force; the daemon will not unseal on its own. Submit the %s shares with migrate=true "
                "(sealer operator migrate)", plan.source, plan.target,
                "recovery" if plan.source != "shamir" else "unseal",
            )
        return plan is not None

    async def _unseal_with_recovery_key(self, record: SealRecord, recovery_key: bytes) -> None:
        tokens = self.tokens
        try:
            if tokens is None:
                raise SealUnavailable("no PKCS#11 token is configured")
            await tokens.try_open()
            found = await wrappings.unwrap_with_tokens(self.storage, record, tokens)
        except SealUnavailable as exc:
            if not (self.options.break_glass and record.break_glass):
                raise
            await self._break_glass(record, recovery_key, str(exc))
            return
        stored = await wrappings.recovery_key(self.storage, record, found.root_key)
        if not constant_time_equal(stored, recovery_key):
            raise SealKeyInvalid("the recovery keys do not match this installation's recovery key")
        await self._open_barrier(record, found)
        current = await self.record()
        if current is not None:
            await self._ensure_break_glass(current, found.root_key, recovery_key)

    async def _break_glass(self, record: SealRecord, recovery_key: bytes, why: str) -> None:
        root_key = await break_glass.open_with(self.storage, record, recovery_key)
        log.warning("BREAK-GLASS: %s; unsealing with a threshold of recovery shares instead", why)
        await self._open_barrier(record, Unwrapped(root_key))
        self._break_glass_active = True
        async with self._record_lock:
            self._record = await break_glass.stamp_use(self.storage, await self._require_record())
        log.warning("BREAK-GLASS: unsealed without any PKCS#11 token, by recovery shares alone. Bring a token back "
                    "(or configure a new one): it gets a wrapping of the root key at the next check "
                    "(PUT sys/sealer/seal/reconcile), and the next start unseals through it")

    async def _migrate(self, record: SealRecord, plan: seal_migration.Plan, key: bytes) -> None:
        log.info("seal migration from %s to %s: the %s shares reached the threshold", plan.source, plan.target,
                 "unseal" if plan.source == "shamir" else "recovery")
        found = await seal_migration.prove(self.storage, record, plan, key)
        crash_point("migrate-proven")
        try:
            await self.barrier.unseal(envelopes.barrier_key(found.root_key, record.installation_bytes))
        except BarrierDecryptError:
            raise SealKeyInvalid("the barrier keyring does not open with this root key") from None
        try:
            async with self._record_lock:
                record = await seal_migration.migrate(self.storage, record, plan, key, found.root_key,
                                                      self.tokens, self.options)
                self._record = record
        except BaseException:
            self.barrier.seal()
            raise
        self._root_key = found.root_key
        await self._serve()
        log.warning("seal migration from %s to %s complete. Remove the disabled %s block from the configuration; "
                    "the %s shares are now the %s shares", plan.source, plan.target, plan.source,
                    "unseal" if plan.source == "shamir" else "recovery",
                    "recovery" if plan.target != "shamir" else "unseal")
        await self._look_after_seal()

    async def _open_barrier(self, record: SealRecord, found: Unwrapped) -> None:
        try:
            await self.barrier.unseal(envelopes.barrier_key(found.root_key, record.installation_bytes))
        except BarrierDecryptError:
            raise SealKeyInvalid("the barrier keyring does not open with this root key") from None
        try:
            async with self._record_lock:
                if record.change is not None and record.change.op == "migrate":
                    # Staged by a migration the configuration no longer asks for: the old seal stays.
                    record = await wrappings.abandon(self.storage, record)
                    self._record = record
                    log.warning("dropped the wrappings staged by an interrupted seal migration that the "
                                "configuration no longer asks for")
        except BaseException:
            self.barrier.seal()
            raise
        self._root_key = found.root_key
        await self._serve()
        if self.standby:
            return  # the active node looks after the seal
        if self.migrate_from is not None and record.type == self.seal.type:
            log.warning("the seal migration to %s is complete: remove the disabled %s block from the configuration",
                        record.type, self.migrate_from.type)
        await self._look_after_seal()

    async def _serve(self) -> None:
        """The barrier is open: load the core and serve; with HA, wait as a standby for the lock instead."""
        if self.ha:
            self._standby()
            return
        await self.core.setup()
        self._unsealed()

    def _unsealed(self) -> None:
        self.seal_error = None
        self.sealed_event.clear()
        self.unsealed_event.set()
        log.info("unsealed")

    # -- high availability ---------------------------------------------------------------------

    def _standby(self) -> None:
        self.seal_error = None
        self.standby = True
        self.standby_event.set()
        log.info("unsealed as a standby: waiting to become the active node")

    async def become_active(self) -> bool:
        """This daemon took the HA lock: re-read what the old active may have changed (the seal record,
        the barrier's keyring), then load the core and serve. False when it cannot (sealed meanwhile)."""
        async with self._transition:
            if self.barrier.sealed or not self.standby:
                return False
            self._record = None
            try:
                await self.barrier.reload()
            except BarrierDecryptError:
                # The root key was changed by another node (a rekey): unseal afresh from the seal.
                log.error("the barrier's keyring no longer opens with this node's key (rekeyed on another node): "
                          "sealing; it unseals again from the seal")
                await self._drop_keys()
                return False
            await self.core.setup()
            self.standby = False
            self.standby_event.clear()
            self.seal_error = None
            self.sealed_event.clear()
            self.unsealed_event.set()
            log.info("active: this node now serves requests")
        await self._look_after_seal()
        return True

    async def become_standby(self) -> None:
        """This daemon lost or gave up the HA lock: stop serving and its background work, keep the barrier open."""
        async with self._transition:
            if self.barrier.sealed or self.standby:
                return
            await self.core.teardown()
            self.unsealed_event.clear()
            self.sealed_event.set()
            self.standby = True
            self.standby_event.set()
            log.warning("standby: this node no longer holds the HA lock")

    # -- looking after the seal while unsealed -------------------------------------------------

    async def _look_after_seal(self) -> None:
        """Upkeep right after an unseal; it must never undo the unseal, so failures are only logged."""
        try:
            await self.reconcile()
        except Exception as exc:
            log.warning("checking the seal's tokens after unsealing failed: %s", exc)

    async def reconcile(self) -> SealRecord:
        """Check every token, wrap the root key under configured tokens that hold no wrapping yet, and
        drop break-glass if it was turned off (see sealer/seal_upkeep.py)."""
        async with self.editing() as edit:
            edit.record = await seal_upkeep.reconcile(self.storage, edit.record, self.tokens, edit.root_key,
                                                      self.options)
            return edit.record

    @asynccontextmanager
    async def editing(self) -> AsyncIterator[Editing]:
        """The record lock, the record and the root key, for a change to the stored seal made while
        unsealed; the record the caller leaves in `edit.record` becomes the current one."""
        async with self._record_lock:
            record = await self._require_record()
            root_key = self._root_key
            if self.sealed or root_key is None:
                raise Sealed()
            edit = Editing(record, root_key)
            try:
                yield edit
            except BaseException:
                # A change may have failed after one of its batches: read the record afresh next time.
                self._record = None
                raise
            self._record = edit.record

    def background(self) -> list[Callable[[asyncio.Event], Awaitable[None]]]:
        """Work to run while unsealed: the periodic check of the tokens."""
        return [self._watch_tokens] if self.tokens is not None else []

    async def _watch_tokens(self, stop: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.options.health_check_interval)
                return
            try:
                await self.reconcile()
            except Sealed:
                return
            except Exception as exc:
                log.warning("the periodic check of the seal's tokens failed: %s", exc)

    async def _ensure_break_glass(self, record: SealRecord, root_key: bytes, recovery_key: bytes) -> None:
        """Break-glass is on in the configuration but not stored yet: a proven recovery key is in hand."""
        if not self.options.break_glass or record.break_glass or not record.auto_unseal:
            return
        async with self._record_lock:
            current = await self._require_record()
            if current.break_glass:
                return
            self._record = await break_glass.enable(self.storage, current, recovery_key, root_key)
        log.warning("break-glass is now stored: a threshold of recovery shares can unseal this store even "
                    "without any PKCS#11 token")

    # -- what ceremonies (rekey, generate-root) build on --------------------------------------

    def share_rules(self, record: SealRecord) -> tuple[int, int, int]:
        """(shares, threshold, share length) of the shares people hold for this store's seal: unseal
        shares for the shamir seal, recovery shares for an auto-unseal seal."""
        if record.auto_unseal:
            return record.recovery_shares, record.recovery_threshold, shares_.share_length(record.recovery_shares)
        return record.secret_shares, record.secret_threshold, shares_.share_length(record.secret_shares)

    async def key_from_shares(self, shares: list[bytes]) -> bytes:
        """Combine people's shares and prove them: the unseal key must open the stored root key (shamir),
        the recovery key must equal the stored one (auto-unseal). Raises BadRequest otherwise."""
        record = await self._require_record()
        count = self.share_rules(record)[0]
        combined = shares_.combine(shares, count)
        try:
            if record.auto_unseal:
                found = await self._root_key_now(record)
                stored = await wrappings.recovery_key(self.storage, record, found.root_key)
                if not constant_time_equal(stored, combined):
                    raise SealKeyInvalid("the recovery keys do not match this installation's recovery key")
                await self._ensure_break_glass(record, found.root_key, combined)
            else:
                await wrappings.unwrap_shamir(self.storage, record, combined)
        except SealKeyInvalid as exc:
            raise BadRequest(str(exc)) from None
        except SealUnavailable as exc:
            raise SealUnavailableError(str(exc)) from exc
        return combined

    async def replace_shared_key(self, proven_key: bytes, shares: int, threshold: int,
                                 new_shared_key: bytes | None = None) -> list[bytes]:
        """Commit a rekey: a new unseal key (shamir; the root key is re-wrapped under it) or a new
        recovery key (auto-unseal), split into `shares`. One atomic batch: afterwards only the new shares
        work. `proven_key` is the current key, as returned by key_from_shares. `new_shared_key` is a key
        whose shares were handed out (and perhaps verified) before this commit; by default a new one."""
        async with self._record_lock:
            record = await self._require_record()
            what = "recovery" if record.auto_unseal else "secret"
            shares_.check_counts(shares, threshold, what)
            new_key_ = new_key() if new_shared_key is None else new_shared_key
            batch: list[BatchOp]
            try:
                if record.auto_unseal:
                    root_key = (await self._root_key_now(record)).root_key
                    keep_break_glass = self.options.break_glass
                    batch = [wrappings.recovery_put(record, root_key, new_key_)]
                    if keep_break_glass:
                        batch.append(break_glass.store(record, new_key_, root_key))
                    elif record.break_glass:
                        batch.append(Delete(BREAK_GLASS_KEY))
                    new_record = replace(record, recovery_shares=shares, recovery_threshold=threshold,
                                         break_glass=keep_break_glass)
                else:
                    root_key = await wrappings.unwrap_shamir(self.storage, record, proven_key)
                    wrapping = record.active("shamir")[0]
                    batch = [Put(wrapping.path, envelopes.wrap_shamir(new_key_, root_key, record.root_key_aad))]
                    new_record = replace(record, secret_shares=shares, secret_threshold=threshold)
            except SealKeyInvalid as exc:
                raise BadRequest(str(exc)) from None
            except SealUnavailable as exc:
                raise SealUnavailableError(str(exc)) from exc
            batch.append(Put(SEAL_RECORD_KEY, new_record.to_bytes()))
            await self.storage.batch(batch)
            self._record = new_record
        log.info("rekeyed: %d new %s shares, threshold %d; the old shares no longer work", shares, what, threshold)
        return shares_.split(new_key_, shares, threshold)

    async def _root_key_now(self, record: SealRecord) -> Unwrapped:
        if self._root_key is not None:
            return Unwrapped(self._root_key)
        tokens = self.tokens
        if tokens is None:
            raise SealUnavailable("the root key is not in hand and no PKCS#11 token is configured")
        await tokens.try_open()
        return await wrappings.unwrap_with_tokens(self.storage, record, tokens)

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
        self._root_key = None
        self._break_glass_active = False
        self.standby = False
        self.standby_event.clear()
        self.unsealed_event.clear()
        self.sealed_event.set()


@dataclass
class Editing:
    record: SealRecord
    root_key: bytes = field(repr=False)


class AlreadyInitialized(BadRequest):
    """sys/init on a store that is initialised (perhaps just now, by another daemon sharing it)."""


@asynccontextmanager
async def _no_guard() -> AsyncIterator[None]:
    yield


class SealUnavailableError(Sealed):
    """Init or unseal needs the seal's device and cannot reach it: 503 with the cause."""


class SealMismatch(BadRequest):
    """The store is sealed by a seal the configuration does not name."""


def _as_seal(seal: Seal | Pkcs11Seal) -> Seal:
    return TokenSet([seal]) if isinstance(seal, Pkcs11Seal) else seal


async def _all_keys(storage: Storage, prefix: str) -> list[str]:
    found: list[str] = []
    for name in await storage.list(prefix):
        if name.endswith("/"):
            found.extend(await _all_keys(storage, prefix + name))
        else:
            found.append(prefix + name)
    return found


__all__ = ["Editing", "InitRequest", "InitResult", "SealManager", "SealMismatch", "SealUnavailableError"]
