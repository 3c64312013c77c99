"""The token store. Service tokens are kept only as a salted HMAC of their value, never in clear, not
even behind the barrier: whoever reads storage (or a backup of it) after unsealing still cannot use a
token. Batch tokens are not stored at all (see batch.py).

Layout behind the barrier:
    core/token-salt                               32 random bytes, created once
    sys/token/batch-key                           the AES-256 key batch tokens are sealed with
    sys/token/id/<hash>                           TokenEntry (JSON), hash = hmac(salt, token)
    sys/token/accessor/<accessor>                 {"id_hash": ...}: act on a token without knowing it
    sys/token/parent/<parent hash>/<child hash>   empty: who to revoke with whom
    sys/token/roles/<name>                        TokenRole (roles.py)

A lookup hashes the presented token and reads one key: no secret is ever compared byte by byte, and
the time a lookup takes does not depend on how much of a guess was right.

The store calls hooks the core sets (all default to doing nothing), so the expiration manager can time
a token's expiry and revoke its leases: `lease_writes(entry)` as a leased service token is made (the
lease's writes go in the token's own batch: one durable write, and no crash can store a token without
its lease), `on_renewed(entry)` after its expiry moved, and `on_revoked(entry)` before a token is
deleted. `on_login_renew(entry)` lets the auth method that issued a login token agree to (and set the
terms of) its renewal (see renewal.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.crypto import hmac_sha256, new_key, random_base62, random_bytes
from engine.errors import BadRequest, EngineError, PermissionDenied
from engine.request import Auth
from engine.storage.base import BatchOp, Delete, Put, Storage
from engine.tokens.batch import BatchCodec, is_batch_token
from engine.tokens.entry import (
    BATCH,
    ROOT_PATH,
    SERVICE,
    USED_UP,
    Clock,
    TokenEntry,
    expiry,
    unix,
    utc_now,
)
from engine.tokens.entry_cache import EntryCache
from engine.tokens.parsed_entries import ParsedEntries
from engine.tokens.policy_names import NON_ASSIGNABLE, sanitize_policies
from engine.tokens.renewal import LoginRenewal, RenewTerms
from engine.tokens.roles import RoleStore
from engine.tokens.ttl import Limits, calculate_ttl

SALT_KEY = "core/token-salt"
BATCH_KEY = "sys/token/batch-key"
ID_PREFIX = "sys/token/id/"
ACCESSOR_PREFIX = "sys/token/accessor/"
PARENT_PREFIX = "sys/token/parent/"

TOKEN_PREFIX = "hvs."  # Vault 1.10+ service tokens
TOKEN_RANDOM_CHARS = 24
ACCESSOR_CHARS = 24
SALT_SIZE = 32

# Vault's 768h: what a mount without its own settings allows.
SYSTEM_LIMITS = Limits(default_ttl=768 * 3600, max_ttl=768 * 3600)

_LOCK_STRIPES = 64
# Tokens whose hashes the store remembers.
_KNOWN_HASHES = 4096

TokenHook = Callable[[TokenEntry], Awaitable[None]]
# A new token's lease: its writes (full storage keys) and what to call once they are committed.
LeaseWrites = tuple[Sequence[BatchOp], Callable[[], None]]
LeaseHook = Callable[[TokenEntry], LeaseWrites | None]


async def _nothing(entry: TokenEntry) -> None:
    return None


def _no_lease(entry: TokenEntry) -> LeaseWrites | None:
    return None


@dataclass
class TokenStore:
    storage: Storage  # the barrier
    clock: Clock = utc_now
    lease_writes: LeaseHook = field(default=_no_lease, repr=False)
    on_renewed: TokenHook = field(default=_nothing, repr=False)
    on_revoked: TokenHook = field(default=_nothing, repr=False)
    # The issuing auth method's say in renewing a login token (None: login tokens renew on their own).
    on_login_renew: LoginRenewal | None = field(default=None, repr=False)
    roles: RoleStore = field(init=False, repr=False)
    _salt: bytes | None = field(default=None, init=False, repr=False)
    _codec: BatchCodec | None = field(default=None, init=False, repr=False)
    # Use counting reads, decrements and writes an entry: one writer per token at a time.
    _locks: list[asyncio.Lock] = field(init=False, repr=False)
    # Lookups reuse the parse of the cached bytes they are handed (see parsed_entries.py).
    _parsed: ParsedEntries = field(default_factory=ParsedEntries, init=False, repr=False)
    # Every request hashes its token (an HMAC, a tenth of a cached read); the same few tokens come back
    # request after request, and a token's hash under this store's salt never changes.
    _hashes: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.roles = RoleStore(self.storage)
        # Every lookup reads an entry; all of this store's writes go through the cache, which drops
        # what they change (see entry_cache.py).
        self.storage = EntryCache(self.storage, ID_PREFIX)
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]

    async def setup(self) -> None:
        self._salt = await self._load_or_create(SALT_KEY, lambda: random_bytes(SALT_SIZE))
        self._hashes = {}
        self._codec = BatchCodec(await self._load_or_create(BATCH_KEY, new_key))

    async def _load_or_create(self, key: str, make: Callable[[], bytes]) -> bytes:
        value = await self.storage.get(key)
        if value is None:
            value = make()
            await self.storage.put(key, value)
        return value

    def hash_token(self, token: str) -> str:
        hashed = self._hashes.get(token)
        if hashed is not None:
            return hashed
        if self._salt is None:
            raise RuntimeError("the token store is not set up")
        if len(self._hashes) >= _KNOWN_HASHES:
            self._hashes.clear()  # many distinct tokens: start over rather than track which is oldest
        hashed = self._hashes[token] = hmac_sha256(self._salt, token.encode()).hex()
        return hashed

    def _batch(self) -> BatchCodec:
        if self._codec is None:
            raise RuntimeError("the token store is not set up")
        return self._codec

    def now(self) -> int:
        return unix(self.clock())

    # --- creation ----------------------------------------------------------------------------------

    async def create(
        self,
        *,
        policies: list[str],
        path: str,
        display_name: str,
        meta: dict[str, str] | None = None,
        ttl: int = 0,
        explicit_max_ttl: int = 0,
        period: int = 0,
        num_uses: int = 0,
        renewable: bool = False,
        parent: TokenEntry | None = None,
        token: str | None = None,
        type: str = SERVICE,
        role: str = "",
        entity_id: str = "",
        bound_cidrs: Sequence[str] = (),
        max_ttl: int = 0,
        mount_max_ttl: int = 0,
        leased: bool = True,
        mount_accessor: str = "",
        internal_data: Mapping[str, Any] | None = None,
    ) -> tuple[str, TokenEntry]:
        """Make a token from settings already decided (TTLs computed, policies checked); return its
        value (shown once, to the caller) and its entry. `token` is a value chosen by a root caller.
        A service token is stored; a batch token is sealed and stored nowhere."""
        if explicit_max_ttl and (ttl == 0 or ttl > explicit_max_ttl):
            ttl = explicit_max_ttl  # even root tokens are bound by an explicit max TTL
        now = self.now()
        entry = TokenEntry(
            id_hash="",
            accessor="",
            policies=list(policies),
            path=path,
            display_name=display_name,
            creation_time=now,
            meta=meta,
            ttl=ttl,
            explicit_max_ttl=explicit_max_ttl,
            period=period,
            num_uses=num_uses,
            parent_hash=parent.id_hash if parent is not None else "",
            type=type,
            entity_id=entity_id,
            renewable=renewable and ttl > 0 and type == SERVICE,
            role=role,
            bound_cidrs=list(bound_cidrs),
            expires=expiry(now, ttl),
            lease_ttl=ttl,
            max_ttl=max_ttl,
            mount_max_ttl=mount_max_ttl,
            mount_accessor=mount_accessor,
            internal_data=dict(internal_data or {}),
        )
        if type == BATCH:
            token = self._batch().seal(entry)
            entry.id_hash = self.hash_token(token)
            return token, entry
        if type != SERVICE:
            raise BadRequest(f"cannot create a token of type {type!r}")

        if token is None:
            token = TOKEN_PREFIX + random_base62(TOKEN_RANDOM_CHARS)
        elif await self.storage.get(ID_PREFIX + self.hash_token(token)) is not None:
            raise BadRequest("cannot create a token with a duplicate ID")
        entry.id_hash = self.hash_token(token)
        entry.accessor = random_base62(ACCESSOR_CHARS)
        ops: list[BatchOp] = [
            Put(ID_PREFIX + entry.id_hash, entry.to_json()),
            Put(ACCESSOR_PREFIX + entry.accessor, json.dumps({"id_hash": entry.id_hash}).encode()),
        ]
        if parent is not None:
            ops.append(Put(f"{PARENT_PREFIX}{parent.id_hash}/{entry.id_hash}", b""))
        lease = self.lease_writes(entry) if leased else None
        if lease is not None:
            ops += lease[0]
        await self.storage.batch(ops)
        if lease is not None:
            lease[1]()  # the lease is on disk: the manager may time it now
        return token, entry

    async def create_root_token(self, token: str | None = None) -> str:
        """A root token, as init and generate-root make them: no parent, no TTL, no lease. `token` is
        the value an operator chose (dev mode's root token id)."""
        token, _ = await self.create(policies=["root"], path=ROOT_PATH, display_name="root", token=token, leased=False)
        return token

    async def create_from_auth(
        self,
        auth: Auth,
        *,
        mount_path: str,
        path: str | None = None,
        mount_accessor: str = "",
        mount_default_ttl: int = SYSTEM_LIMITS.default_ttl,
        mount_max_ttl: int = SYSTEM_LIMITS.max_ttl,
        mount_token_type: str = "default-service",
        warnings: list[str] | None = None,
    ) -> tuple[str, TokenEntry]:
        """The token for a successful login (Vault's LoginCreateToken): an orphan, with the auth
        method's policies (plus "default" unless it said not to), its TTL bounded by the auth mount's
        limits. `path` is the login request's full path (the token's path, e.g.
        "auth/userpass/login/bob"); capping warnings are appended to `warnings`. The mount's accessor
        and the method's internal data are kept for its renew check."""
        policies = sanitize_policies(auth.policies, not auth.no_default_policy)
        for name in policies:
            if name == "root":
                raise BadRequest("auth methods cannot create root tokens")
            if name in NON_ASSIGNABLE:
                raise BadRequest(f'cannot assign policy "{name}"')
        token_type = _login_token_type(auth.token_type, mount_token_type)
        if token_type == BATCH:
            for name, value in (("num_uses", auth.num_uses), ("period", auth.period)):
                if value:
                    raise BadRequest(f'batch tokens cannot have "{name}" set')
        granted = calculate_ttl(
            Limits(mount_default_ttl, mount_max_ttl),
            now=self.now(),
            backend_ttl=auth.ttl,
            period=auth.period,
            backend_max_ttl=auth.max_ttl,
            explicit_max_ttl=auth.explicit_max_ttl,
        )
        if warnings is not None:
            warnings.extend(granted.warnings)
        source = mount_path.removeprefix("auth/").replace("/", "-")
        return await self.create(
            policies=policies,
            path=path or mount_path,
            display_name=(source + auth.display_name).removesuffix("-"),
            meta=dict(auth.metadata) or None,
            ttl=granted.ttl,
            explicit_max_ttl=auth.explicit_max_ttl,
            period=auth.period,
            num_uses=auth.num_uses,
            renewable=auth.renewable,
            type=token_type,
            bound_cidrs=auth.bound_cidrs,
            max_ttl=auth.max_ttl,
            mount_max_ttl=mount_max_ttl,
            mount_accessor=mount_accessor,
            internal_data=auth.internal_data,
        )

    # --- lookup ------------------------------------------------------------------------------------

    async def exists(self, token: str) -> bool:
        return await self.storage.get(ID_PREFIX + self.hash_token(token)) is not None

    async def lookup(self, token: str) -> TokenEntry | None:
        """The live entry for `token`; None when unknown, expired, used up or revoked (a batch token
        also needs its parent alive)."""
        if not token:
            return None
        id_hash = self.hash_token(token)
        if is_batch_token(token):
            return await self._lookup_batch(token, id_hash)
        return await self.lookup_hash(id_hash)

    async def lookup_hash(self, id_hash: str, *, tainted: bool = False) -> TokenEntry | None:
        """A service token by its hash. `tainted` also finds a token whose last use is under way (as
        Vault's lookup endpoints do); an expired token is never found."""
        if not _safe_key(id_hash):
            return None
        raw = await self.storage.get(ID_PREFIX + id_hash)
        if raw is None:
            self._parsed.forget(id_hash)
            return None
        entry = self._parsed.parse(id_hash, raw)
        if entry.used_up and not tainted:
            return None
        # Expiry is enforced here, whatever the expiration manager has or has not revoked yet.
        return None if entry.expired(self.clock()) else entry

    async def _lookup_batch(self, token: str, id_hash: str) -> TokenEntry | None:
        entry = self._batch().open(token, id_hash)
        if entry is None or entry.expired(self.clock()):
            return None
        if entry.parent_hash and await self.lookup_hash(entry.parent_hash) is None:
            return None  # batch tokens die with their parent
        return entry

    async def lookup_accessor(self, accessor: str, *, tainted: bool = False) -> TokenEntry | None:
        id_hash = await self.accessor_hash(accessor)
        return None if id_hash is None else await self.lookup_hash(id_hash, tainted=tainted)

    async def accessor_hash(self, accessor: str) -> str | None:
        """The hash of the token an accessor belongs to, if the accessor is known."""
        if not _safe_key(accessor):
            return None
        raw = await self.storage.get(ACCESSOR_PREFIX + accessor)
        return None if raw is None else str(json.loads(raw)["id_hash"])

    async def accessors(self) -> list[str]:
        return [a for a in await self.storage.list(ACCESSOR_PREFIX) if not a.endswith("/")]

    async def children(self, entry: TokenEntry) -> list[str]:
        """The hashes of the tokens `entry` is the parent of."""
        return await self._child_hashes(entry.id_hash)

    async def _child_hashes(self, id_hash: str) -> list[str]:
        names = await self.storage.list(f"{PARENT_PREFIX}{id_hash}/")
        return [n for n in names if not n.endswith("/")]

    # --- use ---------------------------------------------------------------------------------------

    async def use(self, entry: TokenEntry, remote_address: str | None = None) -> TokenEntry:
        """Count one use of `entry` for a request that has been authorised (Vault's UseToken), and
        check its CIDR binding against `remote_address`. Returns the entry as it now stands; when
        `used_up` is true the request took the last use and the token must be revoked once it ends
        (see `using`). Raises PermissionDenied when the token is no longer usable."""
        if entry.bound_cidrs and not entry.allows_address(remote_address or ""):
            raise PermissionDenied()
        if entry.num_uses == 0:
            return entry
        async with self._lock(entry.id_hash):
            fresh = await self.lookup_hash(entry.id_hash)
            if fresh is None:
                raise PermissionDenied()
            fresh.num_uses = USED_UP if fresh.num_uses == 1 else fresh.num_uses - 1
            await self._store(fresh)
            return fresh

    @asynccontextmanager
    async def using(self, entry: TokenEntry, remote_address: str | None = None) -> AsyncIterator[TokenEntry]:
        """`use` around a request: the token whose last use it was is revoked (with its children and
        leases) when the request is over, whatever its outcome, as Vault does."""
        live = await self.use(entry, remote_address)
        try:
            yield live
        finally:
            if live.used_up:
                await self.revoke_tree(live)

    def _lock(self, id_hash: str) -> asyncio.Lock:
        return self._locks[int(id_hash[:4] or "0", 16) % _LOCK_STRIPES]

    async def _store(self, entry: TokenEntry) -> None:
        await self.storage.put(ID_PREFIX + entry.id_hash, entry.to_json())

    # --- renewal -----------------------------------------------------------------------------------

    async def renew(
        self,
        entry: TokenEntry,
        increment: int = 0,
        *,
        limits: Limits | None = None,
        warnings: list[str] | None = None,
    ) -> TokenEntry | None:
        """Extend a service token's lease (Vault's RenewToken): `increment` seconds from now (0: its
        TTL again), never past its max TTL; a periodic token gets its period again. `limits` are the
        issuing mount's current TTL settings (default: those it had when the token was made).

        A login token (one with a mount accessor) is renewed only if its auth method agrees, when the
        core has set `on_login_renew`: the method's current TTL settings then apply, within its mount's
        current limits. None, with nothing changed, when the method refuses (its user or role is gone)."""
        if entry.is_batch:
            raise BadRequest("batch tokens cannot be renewed")
        terms: RenewTerms | None = None
        if self.on_login_renew is not None:
            # As Vault: the lease must be renewable before the auth method is asked. The method is asked
            # outside the token's lock: it reads its own storage, and a slow one must not hold the lock.
            checked = await self._renewable(entry.id_hash)
            if checked.mount_accessor:
                terms = await self.on_login_renew(checked)
                if terms is None:
                    return None
        async with self._lock(entry.id_hash):
            fresh = await self._renewable(entry.id_hash)
            if terms is None:
                terms = await self._own_terms(fresh, limits)
            auth = terms.auth
            now = self.now()
            granted = calculate_ttl(
                terms.limits,
                now=now,
                start=fresh.creation_time,
                increment=increment,
                backend_ttl=auth.ttl,
                period=auth.period,
                backend_max_ttl=auth.max_ttl,
                explicit_max_ttl=auth.explicit_max_ttl,
            )
            fresh.lease_ttl = granted.ttl
            fresh.max_ttl = auth.max_ttl
            fresh.internal_data = dict(auth.internal_data)
            fresh.expires = now + granted.ttl
            fresh.last_renewal_time = now
            await self._store(fresh)
        if warnings is not None:
            warnings.extend(granted.warnings)
        await self.on_renewed(fresh)
        return fresh

    async def _renewable(self, id_hash: str) -> TokenEntry:
        """The token's entry, if its lease can be renewed (Vault's leaseEntry.renewable)."""
        fresh = await self.lookup_hash(id_hash, tainted=True)
        if fresh is None:
            raise BadRequest("token not found")
        if fresh.expires == 0 or not fresh.renewable:
            raise BadRequest("lease is not renewable")
        return fresh

    async def _own_terms(self, entry: TokenEntry, limits: Limits | None) -> RenewTerms:
        """A renewal without an auth method's say (Vault's token store authRenew): the latest grant
        again, within the token's own max TTL; a role's current period and explicit max TTL win over
        the token's own."""
        period, explicit_max_ttl = entry.period, entry.explicit_max_ttl
        if entry.role:
            role = await self.roles.get(entry.role)
            if role is None:
                raise EngineError(f'original token role "{entry.role}" could not be found, not renewing')
            period, explicit_max_ttl = role.token_period, role.token_explicit_max_ttl
        auth = Auth(
            ttl=entry.lease_ttl,
            max_ttl=entry.max_ttl,
            period=period,
            explicit_max_ttl=explicit_max_ttl,
            internal_data=dict(entry.internal_data),
        )
        limits = limits or Limits(SYSTEM_LIMITS.default_ttl, entry.mount_max_ttl or SYSTEM_LIMITS.max_ttl)
        return RenewTerms(auth, limits)

    # --- revocation --------------------------------------------------------------------------------

    async def revoke(self, token: str) -> None:
        """Revoke `token` and its descendants. Revoking an unknown token is not an error."""
        entry = await self.lookup_hash(self.hash_token(token), tainted=True)
        if entry is not None:
            await self.revoke_tree(entry)

    async def revoke_tree(self, entry: TokenEntry) -> None:
        """Revoke a token and every token below it, children before parents (Vault's
        revokeTreeInternal, iterative so a deep tree cannot exhaust the stack)."""
        if entry.is_batch:
            raise BadRequest("batch tokens cannot be revoked")
        await self._mark_revoking(entry.id_hash)  # unusable from now, while its children go
        stack, seen = [entry.id_hash], set()
        while stack:
            current = stack[-1]
            seen.add(current)
            pending = [child for child in await self._child_hashes(current) if child not in seen]
            if pending:
                stack.extend(pending)
                continue
            await self._revoke_one(current, orphan_children=False)
            stack.pop()

    async def revoke_orphan(self, entry: TokenEntry) -> None:
        """Revoke only this token: its children become orphans and live on."""
        if entry.is_batch:
            raise BadRequest("batch tokens cannot be revoked")
        await self._revoke_one(entry.id_hash, orphan_children=True)

    async def _mark_revoking(self, id_hash: str) -> None:
        async with self._lock(id_hash):
            raw = await self.storage.get(ID_PREFIX + id_hash)
            if raw is None:
                return
            entry = TokenEntry.from_json(raw)
            if not entry.used_up:
                entry.num_uses = USED_UP
                await self._store(entry)

    async def _revoke_one(self, id_hash: str, *, orphan_children: bool) -> None:
        raw = await self.storage.get(ID_PREFIX + id_hash)
        ops: list[BatchOp] = []
        if raw is not None:
            entry = TokenEntry.from_json(raw)
            await self._mark_revoking(id_hash)
            # Leases first: if that fails the token stays (unusable) and revocation can be retried.
            await self.on_revoked(entry)
            ops += _forget(entry)
        for child in await self._child_hashes(id_hash):
            if orphan_children:
                child_raw = await self.storage.get(ID_PREFIX + child)
                if child_raw is not None:
                    orphaned = TokenEntry.from_json(child_raw)
                    orphaned.parent_hash = ""
                    ops.append(Put(ID_PREFIX + child, orphaned.to_json()))
            ops.append(Delete(f"{PARENT_PREFIX}{id_hash}/{child}"))
        if ops:
            await self.storage.batch(ops)

    # --- tidy --------------------------------------------------------------------------------------

    async def tidy(self) -> dict[str, int]:
        """Drop index entries left behind by tokens that are gone (Vault's auth/token/tidy): accessors
        without a token, child links of vanished children; children of a vanished parent become
        orphans."""
        counts = {"accessors": 0, "child_links": 0, "orphaned": 0}
        for accessor in await self.accessors():
            id_hash = await self.accessor_hash(accessor)
            if id_hash is None or await self.storage.get(ID_PREFIX + id_hash) is None:
                await self.storage.delete(ACCESSOR_PREFIX + accessor)
                counts["accessors"] += 1
        for folder in await self.storage.list(PARENT_PREFIX):
            parent_hash = folder.removesuffix("/")
            parent_gone = await self.storage.get(ID_PREFIX + parent_hash) is None
            for child in await self._child_hashes(parent_hash):
                child_raw = await self.storage.get(ID_PREFIX + child)
                if child_raw is not None and not parent_gone:
                    continue
                ops: list[BatchOp] = [Delete(f"{PARENT_PREFIX}{parent_hash}/{child}")]
                if child_raw is not None:
                    orphaned = TokenEntry.from_json(child_raw)
                    orphaned.parent_hash = ""
                    ops.append(Put(ID_PREFIX + child, orphaned.to_json()))
                    counts["orphaned"] += 1
                else:
                    counts["child_links"] += 1
                await self.storage.batch(ops)
        return counts


def _forget(entry: TokenEntry) -> list[BatchOp]:
    """The deletes that remove a service token and its own index entries."""
    ops: list[BatchOp] = [Delete(ID_PREFIX + entry.id_hash)]
    if entry.accessor:
        ops.append(Delete(ACCESSOR_PREFIX + entry.accessor))
    if entry.parent_hash:
        ops.append(Delete(f"{PARENT_PREFIX}{entry.parent_hash}/{entry.id_hash}"))
    return ops


def _safe_key(name: str) -> bool:
    # Hashes and accessors become storage keys: nothing that could climb out of its folder.
    return bool(name) and "/" not in name and ".." not in name


def _login_token_type(requested: str, mount_type: str) -> str:
    """The token type a login gets: the mount's "service"/"batch" setting is final; otherwise the
    auth method's choice, falling back to the mount's default kind."""
    if mount_type in (SERVICE, BATCH):
        return mount_type
    if requested in (SERVICE, BATCH):
        return requested
    return BATCH if mount_type == "default-batch" else SERVICE
