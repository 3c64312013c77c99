"""The audit table (Vault's core/audit): which devices are enabled, persisted behind the barrier with
each device's salt and chain key, so neither is ever readable outside it."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.audit.chain import ChainState
from engine.storage.base import Storage

AUDIT_TABLE_KEY = "core/audit"
CHAIN_PREFIX = "core/audit-chain/"


@dataclass
class AuditEntry:
    path: str  # ends in "/", e.g. "file/"
    type: str
    description: str = ""
    options: dict[str, str] = field(default_factory=dict)
    local: bool = False
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    chain_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def listing(self) -> dict[str, Any]:
        """What sys/audit shows (Vault's shape): never the keys."""
        return {
            "type": self.type,
            "description": self.description,
            "options": dict(self.options),
            "local": self.local,
            "path": self.path,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.listing(),
            "uuid": self.uuid,
            "salt": base64.b64encode(self.salt).decode(),
            "chain_key": base64.b64encode(self.chain_key).decode(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AuditEntry:
        return cls(
            path=raw["path"],
            type=raw["type"],
            description=raw.get("description", ""),
            options=dict(raw.get("options") or {}),
            local=bool(raw.get("local", False)),
            uuid=raw["uuid"],
            salt=base64.b64decode(raw["salt"]),
            chain_key=base64.b64decode(raw["chain_key"]),
        )


async def load_table(storage: Storage) -> list[AuditEntry]:
    raw = await storage.get(AUDIT_TABLE_KEY)
    return [] if raw is None else [AuditEntry.from_json(item) for item in json.loads(raw)]


async def save_table(storage: Storage, entries: list[AuditEntry]) -> None:
    await storage.put(AUDIT_TABLE_KEY, json.dumps([e.to_json() for e in entries]).encode())


async def load_chain(storage: Storage, entry: AuditEntry) -> ChainState:
    raw = await storage.get(CHAIN_PREFIX + entry.uuid)
    if raw is None:
        return ChainState()
    state = json.loads(raw)
    return ChainState(seq=int(state["seq"]), prev=str(state["prev"]))


async def save_chain(storage: Storage, entry: AuditEntry, state: ChainState) -> None:
    await storage.put(CHAIN_PREFIX + entry.uuid, json.dumps(state.to_json()).encode())


async def drop_chain(storage: Storage, entry: AuditEntry) -> None:
    await storage.delete(CHAIN_PREFIX + entry.uuid)
