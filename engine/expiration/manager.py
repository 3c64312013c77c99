"""The expiration manager (Vault's vault/expiration.go): owns every lease, secret or token, from issue
to revocation.

Leases are persisted (store.py); in memory there is only the schedule, a heap of when each lease is
next due (schedule.py), so 100,000 leases cost little and start-up reads ids and times only. One
task, run(), first restores the schedule (restore.py: in the background, requests are answered
meanwhile), then sleeps until the first lease is due (or until an earlier one is added) and revokes
what is due, several at once (expiry.py): there is no task or timer per lease. Tests drive the same
code with a fake clock through expire_due().

A revocation that fails is never dropped: see retry.py. Two callers never revoke one lease together:
see in_flight.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine.crypto import random_base62
from engine.errors import BadRequest, EngineError, NotFound, Sealed
from engine.expiration import expiry
from engine.expiration.entry import SECRET, TOKEN, LeaseEntry, from_unix
from engine.expiration.in_flight import InFlight
from engine.expiration.links import RouteLookup, TokenLike, TokenLink
from engine.expiration.restore import Restore
from engine.expiration.retry import RetryPolicy, RevocationFailed, describe
from engine.expiration.schedule import Schedule
from engine.expiration.store import LeaseStore
from engine.expiration.tidy import tidy
from engine.framework import SecretLease
from engine.request import Response
from engine.router import Route
from engine.storage.base import BatchOp, Storage
from engine.tokens import Clock, utc_now
from engine.tokens.ttl import Limits, calculate_ttl

log = logging.getLogger("engine.expiration")

REVOKE_TIMEOUT = 90.0  # Vault's DefaultMaxRequestDuration, for one backend call
LEASE_ID_RANDOM = 24  # Vault's TokenLength
MAX_IRREVOCABLE_LISTED = 10_000  # Vault's MaxIrrevocableLeasesToReturn
MAX_IRREVOCABLE_WARNING = (
    "Command halted because many irrevocable leases were found. To emit the entire list, re-run the "
    "command with force set true."
)
NO_MOUNT = "mount-accessor-not-found"

# run() re-reads the clock at least this often, so a changed wall clock cannot stall expiry.
_MAX_SLEEP = 60.0


class ExpirationManager:
    def __init__(
        self,
        storage: Storage,
        *,
        routes: RouteLookup,
        tokens: TokenLink,
        clock: Clock = utc_now,
        retry: RetryPolicy | None = None,
        workers: int = expiry.WORKERS,
    ) -> None:
        self._store = LeaseStore(storage)
        self._routes = routes
        self._tokens = tokens
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._workers = workers
        self._schedule = Schedule()
        self._irrevocable: set[str] = set()
        self._wake = asyncio.Event()
        self._restore = Restore(self._store, self._schedule, self._irrevocable, on_done=self._wake.set)
        self._revocations = InFlight()
        self._tidying = False

    # --- start-up ---------------------------------------------------------------------------------

    async def load(self) -> int:
        """Schedule every persisted lease now, from the store's due index (ids and times only, no entry
        is read), and answer how many leases are scheduled. run() does the same in the background;
        this waits for it. Leases that expired while the daemon was down are due at once: the first
        expire_due() revokes them."""
        await self._restore.wait()
        return len(self._schedule)

    @property
    def restoring(self) -> bool:
        """True until every persisted lease is scheduled (counts are partial until then)."""
        return not self._restore.done

    def __len__(self) -> int:
        return len(self._schedule)

    # --- registration -----------------------------------------------------------------------------

    async def register_secret(
        self,
        *,
        path: str,
        ttl: int,
        max_ttl: int,
        renewable: bool,
        internal_data: dict[str, Any],
        token: TokenLike | None,
    ) -> LeaseEntry:
        """A lease for a secret the backend at `path` (the full request path) just issued; `ttl` is
        already the granted TTL. Its id is Vault's "<request path>/<random>"."""
        if token is None:
            raise EngineError("cannot register a lease with an empty client token")
        now = self._now()
        expire = now + ttl
        index_hash = token.id_hash
        if token.type == "batch":
            # A batch token has no storage of its own: its leases hang off its parent, and cannot
            # outlive it.
            index_hash = token.parent_hash
            token_expiry = token.expire_time()
            if token_expiry is not None:
                expire = min(expire, token_expiry.timestamp())
        entry = LeaseEntry(
            lease_id=lease_id_for(path, random_base62(LEASE_ID_RANDOM)),
            kind=SECRET,
            path=path,
            issue_time=now,
            expire_time=expire,
            ttl=ttl,
            max_ttl=max_ttl,
            renewable=renewable,
            internal_data=dict(internal_data),
            token_hash=index_hash,
            token_accessor=token.accessor,
            token_type=token.type,
        )
        await self._store.save(entry)
        self._track(entry)
        return entry

    async def register_token(self, token: TokenLike) -> None:
        """A token with a TTL gets a lease at "<token path>/<token hash>", so expiry revokes it (and its
        children) on time."""
        entry = _token_lease(token)
        if entry is None:
            return
        await self._store.save(entry)
        self._track(entry)

    def token_lease(self, token: TokenLike) -> tuple[list[BatchOp], Callable[[], None]] | None:
        """The token store's lease hook: register_token for a token not stored yet, whose lease is
        written in the token's own batch (so no crash leaves a token that never expires, and a new token
        costs one durable write). Returns the lease's writes and what to call once they are committed;
        None when the token gets no lease."""
        entry = _token_lease(token)
        if entry is None:
            return None
        return self._store.writes(entry), lambda: self._track(entry)

    async def token_renewed(self, token: TokenLike) -> None:
        """The token store's on_renewed hook: follow the token's new expiry."""
        entry = await self._token_lease(token)
        expires = token.expire_time()
        if entry is None or expires is None:
            await self.register_token(token)
            return
        entry.expire_time = expires.timestamp()
        entry.last_renewal_time = self._now()
        entry.ttl = token.ttl
        entry.renewable = token.renewable
        await self._store.save(entry)
        self._track(entry)

    async def _token_lease(self, token: TokenLike) -> LeaseEntry | None:
        entry = await self._token_lease_at_its_id(token)
        if entry is not None:
            return entry
        # Through the token index: a store from before kept token leases there, and a lease moved with its
        # mount is there still.
        for lease_id in await self._store.held_by(token.id_hash):
            entry = await self._store.get(lease_id)
            if entry is not None and entry.kind == TOKEN:
                return entry
        return None

    async def _token_lease_at_its_id(self, token: TokenLike) -> LeaseEntry | None:
        entry = await self._store.get(lease_id_for(token.path, token.id_hash))
        if entry is None or entry.kind != TOKEN or entry.token_hash != token.id_hash:
            return None
        return entry

    # --- revocation -------------------------------------------------------------------------------

    async def revoke(self, lease_id: str, *, sync: bool = True) -> None:
        """Revoke one lease now (sync: errors reach the caller), or queue it: mark it due now and
        let run() revoke it, with retries. An unknown lease is not an error."""
        entry = await self._store.get(lease_id)
        if entry is None:
            return
        if sync:
            await self._revoke(entry)
        else:
            await self._expire_now(entry)

    async def revoke_prefix(self, prefix: str, *, force: bool = False, sync: bool = True) -> None:
        """Every lease below `prefix` (a lease id is a path). Without a trailing '/' an exact lease id
        is revoked alone if there is one, as Vault does. `force` deletes leases whose revocation
        fails (the backend's secret may then outlive its lease: for recovery only)."""
        if not prefix.endswith("/"):
            entry = await self._store.get(prefix)
            if entry is not None:
                if sync or force:
                    await self._revoke(entry, force=force)
                else:
                    await self._expire_now(entry)
                return
            prefix += "/"
        found = await self._store.ids_under(prefix)
        for position, lease_id in enumerate(found, start=1):
            entry = await self._store.get(lease_id)
            if entry is None:
                continue
            if not (sync or force):
                await self._expire_now(entry)
                continue
            try:
                await self._revoke(entry, force=force)
            except RevocationFailed as exc:
                raise BadRequest(f'failed to revoke "{lease_id}" ({position} / {len(found)}): {exc}') from exc

    async def revoke_by_token(self, token: TokenLike) -> None:
        """The token store's on_revoked hook: the token is going, so every secret it was issued goes
        too (failures are queued for retry, never block the token's revocation), and its own lease
        is dropped without calling back into the store."""
        for lease_id in await self._store.held_by(token.id_hash):
            entry = await self._store.get(lease_id)
            if entry is None:
                continue
            if entry.kind == TOKEN:
                await self._forget(entry)
                continue
            await self._revoke_or_retry(entry, self._clock())
        own = await self._token_lease_at_its_id(token)  # an indexed one went in the loop above
        if own is not None:
            await self._forget(own)

    async def move_prefix(self, old: str, new: str) -> None:
        """Re-key the leases below `old` to `new` (both mount paths ending in '/')."""
        for lease_id in await self._store.ids_under(old):
            entry = await self._store.get(lease_id)
            if entry is None:
                continue
            moved = LeaseEntry.from_json(entry.to_json())
            moved.lease_id = new + lease_id.removeprefix(old)
            if moved.path.startswith(old):
                moved.path = new + moved.path.removeprefix(old)
            await self._store.move(entry, moved)
            self._untrack(entry.lease_id)
            self._track(moved)

    async def _revoke(self, entry: LeaseEntry, *, force: bool = False) -> None:
        """Revoke now; a failure reaches the caller (or, with `force`, the lease is dropped anyway)."""

        async def revoke() -> bool:
            fresh = await self._store.get(entry.lease_id)  # gone, if revoked since the caller read it
            if fresh is None:
                return False
            await self._revoke_entry(fresh, force=force)
            return True

        try:
            await self._revocations.run(entry.lease_id, revoke)
        except RevocationFailed:
            if not force:
                raise
            # It joined a revocation without force that failed: force this lease out now.
            await self._revocations.run(entry.lease_id, revoke)

    async def _revoke_or_retry(self, entry: LeaseEntry, now: datetime) -> bool:
        """Revoke now; on failure record the attempt on the lease and schedule its retry (expiry, and a
        token's secrets as the token goes). True when this call revoked it."""

        async def revoke_or_record() -> bool:
            fresh = await self._store.get(entry.lease_id)
            if fresh is None:
                return False
            try:
                await self._revoke_entry(fresh)
            except RevocationFailed as failure:
                await self._record_failure(fresh, failure, now)
                failure.recorded = True
                raise
            return True

        try:
            return await self._revocations.run(entry.lease_id, revoke_or_record)
        except RevocationFailed as failure:
            if not failure.recorded:
                # It joined an operator's revocation, whose failure is reported, not recorded: the
                # lease still needs its retry scheduled.
                fresh = await self._store.get(entry.lease_id)
                if fresh is not None:
                    await self._record_failure(fresh, failure, now)
            return False

    async def _revoke_entry(self, entry: LeaseEntry, *, force: bool = False) -> None:
        try:
            await self._revoke_upstream(entry)
        except Sealed:
            raise
        except Exception as exc:
            failure = exc if isinstance(exc, RevocationFailed) else RevocationFailed(exc)
            if not force:
                raise failure from exc
            log.warning("revocation failed, but in force mode so ignoring: lease_id=%s error=%s",
                        entry.lease_id, failure.message)
        if entry.kind == TOKEN and await self._store.get(entry.lease_id) is None:
            # The token's revocation has dropped its lease already (the store's on_revoked hook).
            self._untrack(entry.lease_id)
            return
        await self._forget(entry)

    async def _revoke_upstream(self, entry: LeaseEntry) -> None:
        if entry.kind == TOKEN:
            # The store revokes the tree; each token's on_revoked drops its leases (this one too).
            await self._tokens.revoke_tree(entry.token_hash)
            return
        route = self._routes(entry.path)
        if route is None:
            raise RevocationFailed(NotFound(f'no handler for route "{entry.path}". route entry not found.'))
        async with asyncio.timeout(REVOKE_TIMEOUT):
            await route.backend.revoke_secret(self._secret_lease(entry, route), route.storage)

    async def _forget(self, entry: LeaseEntry) -> None:
        await self._store.delete(entry)
        self._untrack(entry.lease_id)

    async def _expire_now(self, entry: LeaseEntry) -> None:
        entry.expire_time = min(entry.expire_time, self._now())
        entry.next_revoke_time = None
        await self._store.save(entry)
        self._track(entry)

    async def _record_failure(self, entry: LeaseEntry, failure: RevocationFailed, now: datetime) -> None:
        self._retry.record(entry, failure, now)
        await self._store.save(entry)
        self._track(entry)

    # --- expiry -----------------------------------------------------------------------------------

    async def tick(self) -> int:
        """expire_due() at the clock's time: what run() does each time it wakes."""
        return await self.expire_due()

    async def expire_due(self, now: datetime | None = None, *, stopping: asyncio.Event | None = None) -> int:
        """Revoke every lease due at `now` (default: the clock), several at once, until none is left or
        `stopping` is set; returns how many were handled. Waits for the restore first."""
        await self._restore.wait()
        moment = now or self._clock()

        async def expire(lease_id: str) -> None:
            await self._expire(lease_id, moment)

        return await expiry.expire_due(
            self._schedule, moment.timestamp(), expire, workers=self._workers, retry_in=self._retry.base,
            stopping=stopping,
        )

    async def _expire(self, lease_id: str, now: datetime) -> None:
        entry = await self._store.get(lease_id)
        if entry is None:
            self._irrevocable.discard(lease_id)
            return
        if entry.due > now.timestamp():  # renewed since it was scheduled
            self._track(entry)
            return
        if entry.kind == TOKEN and await self._token_outlives(entry, now):
            return
        if await self._revoke_or_retry(entry, now):
            log.info("revoked lease: lease_id=%s", lease_id)

    async def _token_outlives(self, entry: LeaseEntry, now: datetime) -> bool:
        """A token renewed without its lease being told keeps living: follow its expiry instead."""
        token = await self._tokens.find(entry.token_hash)
        expires = token.expire_time() if token is not None else None
        if expires is None or expires <= now:
            return False
        entry.expire_time = expires.timestamp()
        entry.next_revoke_time = None
        await self._store.save(entry)
        self._track(entry)
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """The one background task: restore the schedule (stopped as soon as `stopping` is set), then
        revoke what is due, sleep until the next due time (or until an earlier lease arrives, or
        `stopping` is set), repeat. Ends when the barrier seals."""
        while not stopping.is_set():
            self._wake.clear()
            try:
                if not await self._restore.wait_or_stop(stopping):
                    return
                await self.expire_due(stopping=stopping)
            except Sealed:
                return
            except Exception:
                # Only the restore's listing gets here (expiry handles its failures per lease).
                log.exception("restoring leases failed: trying again in %.0f s", self._retry.base)
                await _first(stopping, timeout=self._retry.base)
                continue
            await _first(stopping, self._wake, timeout=self._sleep_for())

    def _sleep_for(self) -> float:
        due = self._schedule.next_due()
        if due is None:
            return _MAX_SLEEP
        return min(_MAX_SLEEP, max(0.0, due - self._now()))

    # --- renewal ----------------------------------------------------------------------------------

    async def renew(self, lease_id: str, increment: int) -> Response | None:
        """Extend a secret's lease through its backend, capped by the mount's and the backend's max
        TTL counted from issue (Vault's Renew)."""
        entry = await self._store.get(lease_id)
        if entry is None:
            raise BadRequest("lease not found")
        now = self._clock()
        entry.check_renewable(now)
        if entry.kind == TOKEN:
            raise BadRequest("tokens cannot be renewed through this endpoint")
        route = self._routes(entry.path)
        if route is None:
            raise EngineError("unable to retrieve system view from router")
        try:
            secret = await route.backend.renew_secret(self._secret_lease(entry, route, increment), route.storage)
        except EngineError:
            raise
        except Exception as exc:
            raise BadRequest(f"failed to renew entry: {describe(exc)}") from exc
        if secret is None:
            return None
        granted = calculate_ttl(
            mount_limits(route),
            now=int(now.timestamp()),
            increment=increment,
            backend_ttl=secret.ttl,
            backend_max_ttl=secret.max_ttl or entry.max_ttl,
            start=int(entry.issue_time),
        )
        entry.expire_time = now.timestamp() + granted.ttl
        entry.last_renewal_time = now.timestamp()
        entry.ttl = granted.ttl
        entry.renewable = secret.renewable
        if secret.internal_data:
            entry.internal_data = dict(secret.internal_data)
        await self._store.save(entry)
        self._track(entry)
        return Response(
            lease_id=lease_id, lease_duration=granted.ttl, renewable=secret.renewable,
            warnings=list(granted.warnings),
        )

    # --- queries ----------------------------------------------------------------------------------

    async def lookup(self, lease_id: str) -> dict[str, Any]:
        """Vault's sys/leases/lookup answer (see LeaseEntry.describe)."""
        entry = await self._store.get(lease_id)
        if entry is None:
            raise BadRequest("invalid lease")
        return entry.describe(self._clock())

    async def list(self, prefix: str) -> list[str]:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return await self._store.list(prefix)

    def count(self, kind: str) -> dict[str, Any] | None:
        """Vault's sys/leases/count: "irrevocable" as in Vault, and "all" (every lease) besides;
        None for any other type. Counts are per mount accessor."""
        kind = kind.lower()
        if kind == "irrevocable":
            ids = list(self._irrevocable)
        elif kind == "all":
            ids = list(self._schedule)
        else:
            return None
        return {"lease_count": len(ids), "counts": dict(Counter(self._mount_accessor(i) for i in ids))}

    async def irrevocable(self, limit: int | None = MAX_IRREVOCABLE_LISTED) -> tuple[dict[str, Any], list[str]]:
        """Vault's GET sys/leases?type=irrevocable, earliest expiry first: the leases and a warning
        when cut at `limit`. (Irrevocable leases are few: their entries are read here.)"""
        await self._restore.wait()
        entries = [entry for lease_id in list(self._irrevocable) if (entry := await self._store.get(lease_id))]
        entries.sort(key=lambda entry: (entry.expire_time, entry.lease_id))
        warnings: list[str] = []
        if limit is not None and len(entries) > limit:
            entries = entries[:limit]
            warnings.append(MAX_IRREVOCABLE_WARNING)
        leases = [
            {"lease_id": e.lease_id, "mount_id": self._mount_accessor(e.lease_id), "error": e.revoke_error}
            for e in entries
        ]
        return {"lease_count": len(leases), "leases": leases}, warnings

    async def tidy(self) -> dict[str, int]:
        """Vault's lease tidy: revoke (forcibly) every lease whose token is gone or expired; a token
        lease whose token is gone is just dropped."""
        if self._tidying:
            log.warning("tidy operation on leases is already in progress")
            return {}
        self._tidying = True
        try:
            return await tidy(
                self._store, self._tokens, self._clock(), drop=self._forget, force_revoke=self._force_revoke
            )
        finally:
            self._tidying = False

    async def _force_revoke(self, entry: LeaseEntry) -> None:
        await self._revoke(entry, force=True)

    # --- helpers ----------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock().timestamp()

    def _track(self, entry: LeaseEntry) -> None:
        self._restore.settle(entry.lease_id)
        if entry.irrevocable:
            self._irrevocable.add(entry.lease_id)
        else:
            self._irrevocable.discard(entry.lease_id)
        if self._schedule.set(entry.lease_id, entry.due):
            self._wake.set()

    def _untrack(self, lease_id: str) -> None:
        self._restore.settle(lease_id)
        self._schedule.discard(lease_id)
        self._irrevocable.discard(lease_id)

    def _mount_accessor(self, lease_id: str) -> str:
        route = self._routes(lease_id)
        return route.entry.accessor if route is not None else NO_MOUNT

    @staticmethod
    def _secret_lease(entry: LeaseEntry, route: Route, increment: int = 0) -> SecretLease:
        return SecretLease(
            lease_id=entry.lease_id,
            path=entry.path.removeprefix(route.entry.path),
            issue_time=from_unix(entry.issue_time),
            ttl=entry.ttl,
            max_ttl=entry.max_ttl,
            internal_data=dict(entry.internal_data),
            increment=increment,
        )


def _token_lease(token: TokenLike) -> LeaseEntry | None:
    expires = token.expire_time()
    if expires is None or token.type == "batch" or not token.path:
        return None
    return LeaseEntry(
        lease_id=lease_id_for(token.path, token.id_hash),
        kind=TOKEN,
        path=token.path,
        issue_time=float(token.creation_time),
        expire_time=expires.timestamp(),
        ttl=token.ttl,
        renewable=token.renewable,
        token_hash=token.id_hash,
        token_accessor=token.accessor,
        token_type=token.type,
    )


def lease_id_for(path: str, leaf: str) -> str:
    """Vault's path.Join(path, leaf) for the paths requests carry: empty segments dropped."""
    return "/".join([*(part for part in path.split("/") if part), leaf])


def mount_limits(route: Route) -> Limits:
    return Limits(default_ttl=route.entry.default_lease_ttl(), max_ttl=route.entry.max_lease_ttl())


async def _first(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
