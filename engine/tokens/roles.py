"""Token roles (auth/token/roles/:name): named presets for auth/token/create/:name, kept behind the
barrier under sys/token/roles/ as Vault keeps them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.storage.base import Storage

ROLES_PREFIX = "sys/token/roles/"

# Vault's token types as a role stores them.
ROLE_TOKEN_TYPES = ("service", "batch", "default-service", "default-batch")


@dataclass
class TokenRole:
    name: str
    allowed_policies: list[str] = field(default_factory=list)
    disallowed_policies: list[str] = field(default_factory=list)
    allowed_policies_glob: list[str] = field(default_factory=list)
    disallowed_policies_glob: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    path_suffix: str = ""
    allowed_entity_aliases: list[str] | None = None
    token_period: int = 0
    token_explicit_max_ttl: int = 0
    token_type: str = "default-service"
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    token_bound_cidrs: list[str] = field(default_factory=list)
    # The deprecated spellings, kept so a read returns what was written (as Vault does).
    period: int = 0
    explicit_max_ttl: int = 0
    bound_cidrs: list[str] = field(default_factory=list)

    @property
    def restricts_policies(self) -> bool:
        return bool(
            self.allowed_policies
            or self.disallowed_policies
            or self.allowed_policies_glob
            or self.disallowed_policies_glob
        )

    def describe(self) -> dict[str, Any]:
        """Vault's role read answer."""
        data: dict[str, Any] = {
            "allowed_entity_aliases": self.allowed_entity_aliases,
            "allowed_policies": self.allowed_policies,
            "allowed_policies_glob": self.allowed_policies_glob,
            "disallowed_policies": self.disallowed_policies,
            "disallowed_policies_glob": self.disallowed_policies_glob,
            "explicit_max_ttl": self.explicit_max_ttl,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "period": self.period,
            "renewable": self.renewable,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_period": self.token_period,
            "token_type": self.token_type,
        }
        if self.token_bound_cidrs:
            data["token_bound_cidrs"] = self.token_bound_cidrs
        if self.bound_cidrs:
            data["bound_cidrs"] = self.bound_cidrs
        if self.token_num_uses > 0:
            data["token_num_uses"] = self.token_num_uses
        return data


class RoleStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def get(self, name: str) -> TokenRole | None:
        if not _safe(name):
            return None
        raw = await self._storage.get(ROLES_PREFIX + name)
        if raw is None:
            return None
        known = {f.name for f in fields(TokenRole)}
        return TokenRole(**{k: v for k, v in json.loads(raw).items() if k in known})

    async def put(self, role: TokenRole) -> None:
        await self._storage.put(ROLES_PREFIX + role.name, json.dumps(asdict(role)).encode())

    async def delete(self, name: str) -> None:
        if _safe(name):
            await self._storage.delete(ROLES_PREFIX + name)

    async def names(self) -> list[str]:
        return [name for name in await self._storage.list(ROLES_PREFIX) if not name.endswith("/")]


def _safe(name: str) -> bool:
    return bool(name) and "/" not in name and ".." not in name
