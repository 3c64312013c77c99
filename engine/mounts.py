"""The mount tables (Vault's vault/mount.go): which engine is mounted where, persisted behind the
barrier, and the operations that change them.

Two tables, as in Vault: secret engines at "core/mounts" (what sys/mounts lists) and auth methods at
"core/auth". Each mount keeps its data under its own prefix, keyed by the mount's UUID, so a mount's
path never appears in storage keys and disabling a mount is one prefix delete.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.errors import BadRequest, EngineError
from engine.framework import Backend
from engine.router import Route, Router
from engine.storage.base import Storage
from engine.storage.view import View, clear

SYSTEM_DEFAULT_LEASE_TTL = 768 * 3600  # Vault's 32 days
SYSTEM_MAX_LEASE_TTL = 768 * 3600

# Vault refuses to mount anything at or below these, and to mount a second instance of these types.
PROTECTED_PREFIXES = ("audit/", "auth/", "sys/", "cubbyhole/", "identity/")
SINGLETON_TYPES = ("cubbyhole", "system", "token", "identity")

MOUNTS_TABLE_KEY = "core/mounts"
AUTH_TABLE_KEY = "core/auth"

BackendFactory = Callable[["MountEntry"], Backend]


@dataclass
class MountConfig:
    default_lease_ttl: int = 0  # 0: the system default
    max_lease_ttl: int = 0
    force_no_cache: bool = False


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
        return self.path.startswith("auth/")

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
        return cls(**{**raw, "config": MountConfig(**raw.get("config", {}))})


def sanitize_mount_path(path: str) -> str:
    path = path.lstrip("/")
    return path if path.endswith("/") else path + "/"


def default_mounts() -> list[MountEntry]:
    return [
        MountEntry("secret/", "kv", "key/value secret storage", options={"version": "1"}),
        MountEntry("sys/", "system", "system endpoints used for control, policy and debugging"),
    ]


def default_auth() -> list[MountEntry]:
    return [MountEntry("auth/token/", "token", "token based credentials")]


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

    async def save(self, storage: Storage, entries: list[MountEntry]) -> None:
        """Persist `entries`, then adopt them: on a storage failure the table is unchanged."""
        body = {"type": self.kind, "entries": [e.to_json() for e in entries]}
        await storage.put(self.key, json.dumps(body).encode())
        self.entries = entries


class MountManager:
    """Owns the mount tables and the router built from them."""

    def __init__(self, storage: Storage, factories: Mapping[str, BackendFactory]) -> None:
        self._storage = storage
        self._factories = factories
        self._mounts = MountTable(MOUNTS_TABLE_KEY, "mounts")
        self._auth = MountTable(AUTH_TABLE_KEY, "auth")
        # Enable/disable await storage between their check and their change; one at a time.
        self._lock = asyncio.Lock()
        self.router = Router()

    async def load(self) -> None:
        """Load both tables, creating the defaults on first start, and mount every entry."""
        for table, defaults in ((self._mounts, default_mounts), (self._auth, default_auth)):
            if not await table.load(self._storage):
                await table.save(self._storage, defaults())
            for entry in table.entries:
                self.router.add(self._route(entry))

    def _route(self, entry: MountEntry) -> Route:
        factory = self._factories.get(entry.type)
        if factory is None:
            raise EngineError(f"no backend for mount type {entry.type!r} at {entry.path}")
        return Route(entry, factory(entry), View(self._storage, entry.storage_prefix))

    def secret_mounts(self) -> list[MountEntry]:
        return list(self._mounts.entries)

    def find_secret_mount(self, path: str) -> MountEntry | None:
        """The secret engine mount that `path` falls under (longest prefix), as Vault's
        MatchingMountEntry does for sys/mounts/<path>."""
        found = self.router.match(sanitize_mount_path(path))
        if found is None or found[0].entry not in self._mounts.entries:
            return None
        return found[0].entry

    async def enable(self, entry: MountEntry) -> None:
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
            route = self._route(entry)
            await self._mounts.save(self._storage, [*self._mounts.entries, entry])
            self.router.add(route)

    async def disable(self, path: str) -> None:
        """Unmount and delete the mount's data. Disabling a path that is not mounted succeeds, as in
        Vault, so the answer does not reveal whether it was."""
        path = sanitize_mount_path(path)
        async with self._lock:
            route = self.router.get(path)
            if route is None:
                return
            for prefix in PROTECTED_PREFIXES:
                if path.startswith(prefix):
                    raise BadRequest(f'cannot unmount "{path}"')
            entry = route.entry
            await self._mounts.save(self._storage, [e for e in self._mounts.entries if e is not entry])
            self.router.remove(path)
            # After the table change: a crash here leaves unreachable data, never a mount without data.
            await clear(self._storage, entry.storage_prefix)
