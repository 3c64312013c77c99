"""What the database engine keeps in its mount's storage (behind the barrier): connection configs,
dynamic roles and static roles, one JSON entry each, under the same keys Vault uses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from engine.storage.base import Storage

CONFIG_PREFIX = "config/"
ROLE_PREFIX = "role/"
STATIC_ROLE_PREFIX = "static-role/"


@dataclass
class ConnectionConfig:
    """Vault's DatabaseConfig. `connection_details` holds what the plugin is configured with
    (connection_url, username, password, ...): the password is never shown or logged."""

    plugin_name: str
    connection_details: dict[str, Any] = field(default_factory=dict, repr=False)
    allowed_roles: list[str] = field(default_factory=list)
    root_credentials_rotate_statements: list[str] = field(default_factory=list)
    password_policy: str = ""
    verify_connection: bool = True
    # Written before rotate-root changes the password in PostgreSQL (Vault's WAL entry): if the
    # rotation stops half-way, whichever password PostgreSQL accepts is kept (Connections.get).
    pending_root_password: str = field(default="", repr=False)

    def allows(self, role: str) -> bool:
        """Vault's StrListContainsGlob: "*" allows every role, "app-*" every role starting "app-"."""
        for allowed in self.allowed_roles:
            if allowed == role or (allowed.endswith("*") and role.startswith(allowed[:-1])):
                return True
        return False

    def shown(self) -> dict[str, Any]:
        details = {k: v for k, v in self.connection_details.items() if k not in ("password", "private_key")}
        return {
            "plugin_name": self.plugin_name,
            "plugin_version": "",
            "connection_details": details,
            "allowed_roles": self.allowed_roles,
            "root_credentials_rotate_statements": self.root_credentials_rotate_statements,
            "password_policy": self.password_policy,
            "verify_connection": self.verify_connection,
        }


@dataclass
class DynamicRole:
    db_name: str
    creation_statements: list[str] = field(default_factory=list)
    revocation_statements: list[str] = field(default_factory=list)
    rollback_statements: list[str] = field(default_factory=list)
    renew_statements: list[str] = field(default_factory=list)
    default_ttl: int = 0
    max_ttl: int = 0

    def shown(self) -> dict[str, Any]:
        return {**asdict(self), "credential_type": "password"}


@dataclass
class StaticRole:
    db_name: str
    username: str
    rotation_period: int
    rotation_statements: list[str] = field(default_factory=list)
    password: str = field(default="", repr=False)
    last_vault_rotation: float = 0.0  # unix seconds; 0: never rotated
    # Written before a rotation changes the database (Vault's WAL entry), so a crash between the
    # database and storage never loses the password the database now has: the next attempt reuses it.
    pending_password: str = field(default="", repr=False)

    def next_rotation(self) -> float:
        return self.last_vault_rotation + self.rotation_period

    def shown(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "db_name": self.db_name,
            "username": self.username,
            "rotation_period": self.rotation_period,
            "rotation_statements": self.rotation_statements,
            "credential_type": "password",
        }
        if self.last_vault_rotation:
            data["last_vault_rotation"] = rfc3339(self.last_vault_rotation)
        return data


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


Record = TypeVar("Record", ConnectionConfig, DynamicRole, StaticRole)


class RecordStore(Generic[Record]):
    """One kind of record under one storage prefix."""

    def __init__(self, kind: type[Record], prefix: str) -> None:
        self._kind = kind
        self._prefix = prefix
        self._known = {f.name for f in fields(kind)}

    async def get(self, storage: Storage, name: str) -> Record | None:
        raw = await storage.get(self._prefix + name)
        if raw is None:
            return None
        stored = json.loads(raw)
        return self._kind(**{k: v for k, v in stored.items() if k in self._known})

    async def put(self, storage: Storage, name: str, record: Record) -> None:
        await storage.put(self._prefix + name, json.dumps(asdict(record)).encode())

    async def delete(self, storage: Storage, name: str) -> None:
        await storage.delete(self._prefix + name)

    async def names(self, storage: Storage) -> list[str]:
        return [name for name in await storage.list(self._prefix) if not name.endswith("/")]


CONFIGS = RecordStore(ConnectionConfig, CONFIG_PREFIX)
ROLES = RecordStore(DynamicRole, ROLE_PREFIX)
STATIC_ROLES = RecordStore(StaticRole, STATIC_ROLE_PREFIX)
