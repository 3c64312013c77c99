"""The mount tables (Vault's vault/mount.go and vault/auth.go): which engine is mounted where, persisted
behind the barrier, and the operations that change them.

Two tables, as in Vault: secret engines at "core/mounts" (what sys/mounts lists) and auth methods at
"core/auth" (what sys/auth lists). Each mount keeps its data under its own prefix, keyed by the mount's
UUID, so a mount's path never appears in storage keys, a remount moves no data, and disabling a mount
is one prefix delete.

Every change writes the new table first and only then touches the router and the in-memory entries:
a storage failure leaves everything as it was.
"""

from __future__ import annotations

import asyncio
import copy
import json
import posixpath
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.errors import BadRequest, EngineError
from engine.framework import Backend
from engine.router import Route, Router
from engine.storage.base import Storage
from engine.storage.view import View, clear

SYSTEM_DEFAULT_LEASE_TTL = 768 * 3600  # Vault's 32 days
SYSTEM_MAX_LEASE_TTL = 768 * 3600

AUTH_PREFIX = "auth/"

# Vault refuses to mount anything at or below these, and to mount a second instance of these types.
PROTECTED_PREFIXES = ("audit/", "auth/", "sys/", "cubbyhole/", "identity/")
SINGLETON_TYPES = ("cubbyhole", "system", "token", "identity")
# Vault's protectedAuths: the token store can be neither moved nor replaced.
PROTECTED_AUTH_PREFIXES = ("auth/token",)

MOUNTS_TABLE_KEY = "core/mounts"
AUTH_TABLE_KEY = "core/auth"

BackendFactory = Callable[["MountEntry"], Backend]
# Called with the mount's full path before a disable or a remount changes anything, so the leases
# issued under it can be revoked while the backend still answers revocations.
BeforeChange = Callable[[str], Awaitable[None]]


@dataclass
class MountConfig:
    default_lease_ttl: int = 0  # 0: the system default
    max_lease_ttl: int = 0
    force_no_cache: bool = False
    # Auth mounts only: which tokens logins get ("default-service", "default-batch", "service", "batch").
    token_type: str = ""
    listing_visibility: str = ""
    audit_non_hmac_request_keys: list[str] = field(default_factory=list)
    audit_non_hmac_response_keys: list[str] = field(default_factory=list)
    passthrough_request_headers: list[str] = field(default_factory=list)
    allowed_response_headers: list[str] = field(default_factory=list)
    # Auth mounts only (Vault 1.13+): {"lockout_threshold": int, "lockout_duration": seconds,
    # "lockout_counter_reset": seconds, "lockout_disable": bool}; None (or a 0) means the defaults.
    user_lockout_config: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MountConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class MountEntry:
    path: str  # the full routing path, e.g. "secret/" or "auth/token/"
    type: str
    description: str = ""
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    accessor: str = ""
    options: dict[str, str] | None = None
    local: bool = False
    seal_wrap: bool = False
    external_entropy_access: bool = False
    config: MountConfig = field(default_factory=MountConfig)

    def __post_init__(self) -> None:
        if not self.accessor:
            kind = f"auth_{self.type}" if self.is_auth else self.type
            self.accessor = f"{kind}_{uuid.uuid4().hex[:8]}"

    @property
    def is_auth(self) -> bool:
        return self.path.startswith(AUTH_PREFIX)

    @property
    def storage_prefix(self) -> str:
        return f"{'auth' if self.is_auth else 'logical'}/{self.uuid}/"

    def default_lease_ttl(self) -> int:
        return self.config.default_lease_ttl or SYSTEM_DEFAULT_LEASE_TTL

    def max_lease_ttl(self) -> int:
        return self.config.max_lease_ttl or SYSTEM_MAX_LEASE_TTL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MountEntry:
        return cls(**{**raw, "config": MountConfig.from_json(raw.get("config", {}))})


def sanitize_mount_path(path: str) -> str:
    path = path.lstrip("/")
    return path if path.endswith("/") else path + "/"


def default_mounts() -> list[MountEntry]:
    return [
        MountEntry("secret/", "kv", "key/value secret storage", options={"version": "1"}),
        MountEntry("sys/", "system", "system endpoints used for control, policy and debugging"),
    ]


def default_auth() -> list[MountEntry]:
    token = MountEntry("auth/token/", "token", "token based credentials")
    token.config.token_type = "default-service"
    return [token]


class MountTable:
    """One persisted table of mount entries."""

    def __init__(self, key: str, kind: str) -> None:
        self.key = key
        self.kind = kind
        self.entries: list[MountEntry] = []

    async def load(self, storage: Storage) -> bool:
        raw = await storage.get(self.key)
        if raw is None:
            return False
        self.entries = [MountEntry.from_json(e) for e in json.loads(raw)["entries"]]
        return True

    async def write(self, storage: Storage, entries: list[MountEntry]) -> None:
        body = {"type": self.kind, "entries": [e.to_json() for e in entries]}
        await storage.put(self.key, json.dumps(body).encode())

    async def save(self, storage: Storage, entries: list[MountEntry]) -> None:
        """Persist `entries`, then adopt them: on a storage failure the table is unchanged."""
        await self.write(storage, entries)
        self.entries = entries


class MountManager:
    """Owns the mount tables and the router built from them. `factories` build secret engines (and the
    built-in system and token backends), `auth_factories` the auth methods users may enable.
    `required` makes the secret engine mounts every server has (Vault's requiredMountTable: the
    cubbyhole), added to the table on load wherever missing."""

    def __init__(
        self,
        storage: Storage,
        factories: Mapping[str, BackendFactory],
        auth_factories: Mapping[str, BackendFactory] | None = None,
        *,
        required: Callable[[], list[MountEntry]] = list,
    ) -> None:
        self._storage = storage
        self._factories = factories
        self._auth_factories: Mapping[str, BackendFactory] = auth_factories or {}
        self._required = required
        self._mounts = MountTable(MOUNTS_TABLE_KEY, "mounts")
        self._auth = MountTable(AUTH_TABLE_KEY, "auth")
        # Every change awaits storage between its checks and its effect; one change at a time.
        self._lock = asyncio.Lock()
        self.router = Router()

    async def load(self) -> None:
        """Load both tables, creating the defaults on first start, and mount every entry."""
        for table, defaults in ((self._mounts, default_mounts), (self._auth, default_auth)):
            if not await table.load(self._storage):
                await table.save(self._storage, defaults())
            if table is self._mounts:
                present = {entry.path for entry in table.entries}
                missing = [entry for entry in self._required() if entry.path not in present]
                if missing:
                    await table.save(self._storage, [*missing, *table.entries])
            for entry in table.entries:
                self.router.add(self._route(entry))

    def _factory(self, entry: MountEntry) -> BackendFactory | None:
        if entry.is_auth and entry.type in self._auth_factories:
            return self._auth_factories[entry.type]
        return self._factories.get(entry.type)

    def _route(self, entry: MountEntry) -> Route:
        factory = self._factory(entry)
        if factory is None:
            raise EngineError(f"no backend for mount type {entry.type!r} at {entry.path}")
        return Route(entry, factory(entry), View(self._storage, entry.storage_prefix))

    def _table(self, entry: MountEntry) -> MountTable:
        return self._auth if entry.is_auth else self._mounts

    # --- lookups -----------------------------------------------------------------------------------

    def secret_mounts(self) -> list[MountEntry]:
        return list(self._mounts.entries)

    def auth_mounts(self) -> list[MountEntry]:
        return list(self._auth.entries)

    def find_secret_mount(self, path: str) -> MountEntry | None:
        """The secret engine mount that `path` falls under (longest prefix), as Vault's
        MatchingMountEntry does for sys/mounts/<path>."""
        entry = self.find_mount(path)
        return entry if entry is not None and not entry.is_auth else None

    def find_mount(self, path: str) -> MountEntry | None:
        """The mount, secret engine or auth method, that `path` falls under (longest prefix)."""
        found = self.router.match(sanitize_mount_path(path))
        return None if found is None else found[0].entry

    def auth_mount(self, path: str) -> MountEntry | None:
        """The auth method mounted exactly at auth/<path>."""
        route = self.router.get(AUTH_PREFIX + sanitize_mount_path(path))
        return None if route is None or not route.entry.is_auth else route.entry

    # --- enable ------------------------------------------------------------------------------------

    async def enable(self, entry: MountEntry) -> None:
        """Mount a secret engine."""
        entry.path = sanitize_mount_path(entry.path)
        for prefix in PROTECTED_PREFIXES:
            if entry.path.startswith(prefix):
                raise BadRequest(f'cannot mount "{entry.path}"')
        if entry.type in SINGLETON_TYPES:
            raise BadRequest(f'mount type of "{entry.type}" is not mountable')
        async with self._lock:
            existing = self.router.conflict(entry.path)
            if existing is not None:
                raise BadRequest(f"path is already in use at {existing}")
            if entry.type not in self._factories:
                raise BadRequest(f"plugin not found in the catalog: {entry.type}")
            await self._add(entry)

    async def enable_auth(self, entry: MountEntry) -> None:
        """Mount an auth method at `entry.path`, "auth/<name>/"."""
        relative = sanitize_mount_path(entry.path.removeprefix(AUTH_PREFIX))
        if relative == "/" or not entry.path.startswith(AUTH_PREFIX):
            raise BadRequest("backend path must be specified")
        entry.path = AUTH_PREFIX + relative
        async with self._lock:
            for existing in self._auth.entries:
                if existing.path.startswith(entry.path) or entry.path.startswith(existing.path):
                    raise BadRequest(f"path is already in use at {existing.path.removeprefix(AUTH_PREFIX)}")
            if entry.type == "token":
                raise BadRequest("token credential backend cannot be instantiated")
            conflict = self.router.conflict(entry.path)
            if conflict is not None:
                raise BadRequest(f"existing mount at {conflict}")
            if entry.type not in self._auth_factories:
                raise BadRequest(f"plugin not found in the catalog: {entry.type}")
            await self._add(entry)

    async def _add(self, entry: MountEntry) -> None:
        route = self._route(entry)  # a factory refusing the entry (bad options) leaves no trace
        table = self._table(entry)
        await table.save(self._storage, [*table.entries, entry])
        self.router.add(route)

    # --- disable -----------------------------------------------------------------------------------

    async def disable(self, path: str, *, before: BeforeChange | None = None) -> None:
        """Unmount a secret engine and delete its data. Disabling a path that is not mounted succeeds,
        as in Vault, so the answer does not reveal whether it was."""
        path = sanitize_mount_path(path)
        async with self._lock:
            route = self.router.get(path)
            if route is None:
                return
            for prefix in PROTECTED_PREFIXES:
                if path.startswith(prefix):
                    raise BadRequest(f'cannot unmount "{path}"')
            await self._remove(route, before)

    async def disable_auth(self, path: str, *, before: BeforeChange | None = None) -> None:
        """Disable the auth method at auth/<path> and delete its data (users, roles...)."""
        relative = sanitize_mount_path(path)
        async with self._lock:
            route = self.router.get(AUTH_PREFIX + relative)
            if route is None or not route.entry.is_auth:
                return
            if relative == "token/":
                raise BadRequest("token credential backend cannot be disabled")
            await self._remove(route, before)

    async def _remove(self, route: Route, before: BeforeChange | None) -> None:
        entry = route.entry
        if before is not None:
            await before(entry.path)
        table = self._table(entry)
        await table.save(self._storage, [e for e in table.entries if e is not entry])
        self.router.remove(entry.path)
        await route.backend.cleanup()
        # After the table change: a crash here leaves unreachable data, never a mount without data.
        await clear(self._storage, entry.storage_prefix)

    # --- tune --------------------------------------------------------------------------------------

    async def update(self, entry: MountEntry, change: Callable[[MountEntry], None], *, rebuild: bool = False) -> None:
        """Apply `change` to a mounted entry (tuning): the table is written with the changed copy first,
        then the live entry, which its backend holds, takes the new values. With `rebuild` the backend
        is built anew from the changed entry (an options change it reads at construction)."""
        async with self._lock:
            route = self.router.get(entry.path)
            if route is None or route.entry is not entry:
                raise BadRequest(f'tune of path "{entry.path}" failed: no mount entry found')
            changed = copy.deepcopy(entry)
            change(changed)
            if rebuild:
                self._route(changed)  # a factory refusing the new settings fails before any write
            table = self._table(entry)
            await table.write(self._storage, [changed if e is entry else e for e in table.entries])
            vars(entry).update(vars(changed))
            if rebuild:
                self.router.remove(entry.path)
                self.router.add(self._route(entry))
                await route.backend.cleanup()

    # --- remount -----------------------------------------------------------------------------------

    async def remount(self, source: str, target: str, *, before: BeforeChange | None = None) -> MountEntry:
        """Move a mount (secret engine or auth method) to a new path, with Vault's checks. Its data stays
        where it is (keyed by the mount's UUID); leases under the old path go through `before`."""
        source, target = sanitize_mount_path(source), sanitize_mount_path(target)
        _check_remount_paths(source, target)
        async with self._lock:
            route = self.router.get(source)
            if route is None:
                raise BadRequest(f'no matching mount at "{source}"')
            conflict = self.router.conflict(target)
            if conflict is not None:
                raise BadRequest(f'path already in use at "{conflict}"')
            entry = route.entry
            if before is not None:
                await before(entry.path)
            moved = copy.deepcopy(entry)
            moved.path = target
            table = self._table(entry)
            await table.write(self._storage, [moved if e is entry else e for e in table.entries])
            self.router.remove(source)
            entry.path = target
            self.router.add(route)
            return entry


def _check_remount_paths(source: str, target: str) -> None:
    cleaned = posixpath.normpath(target) + "/"
    if cleaned != target or target.startswith("../") or target == "./":
        raise BadRequest(f"invalid destination mount: path '{target}' does not match cleaned path '{cleaned}'")
    if source.startswith(AUTH_PREFIX):
        if not target.startswith(AUTH_PREFIX):
            raise BadRequest(f'cannot remount auth mount to non-auth mount "{target}"')
        for prefix in PROTECTED_AUTH_PREFIXES:
            if source.startswith(prefix):
                raise BadRequest(f'cannot remount "{source}"')
            if target.startswith(prefix):
                raise BadRequest(f'cannot remount to destination "{target}"')
        return
    for prefix in PROTECTED_PREFIXES:
        if source.startswith(prefix):
            raise BadRequest(f'cannot remount "{source}"')
        if target.startswith(prefix):
            raise BadRequest(f"cannot remount to destination {target}")
