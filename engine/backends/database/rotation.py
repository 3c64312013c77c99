"""Static roles' passwords: changed at creation, on demand (rotate-role/:name) and when their rotation
period has passed (the backend's periodic work, Vault's rotation queue).

A rotation first saves the new password as pending (Vault's WAL entry), then changes it in the
database, then makes it current. A crash or a failure in between leaves the pending password to be
tried again, so storage never loses a password the database may already have. A failed scheduled
rotation is retried after ROTATION_RETRY seconds, as Vault requeues it."""

from __future__ import annotations

import asyncio
import logging

from engine.backends.database.connections import Connections
from engine.backends.database.credentials import generate_password
from engine.backends.database.records import STATIC_ROLES, StaticRole
from engine.errors import EngineError, Sealed
from engine.storage.base import Storage
from engine.tokens import Clock

log = logging.getLogger("engine.database")

ROTATION_RETRY = 10.0


class StaticRotation:
    def __init__(self, connections: Connections, clock: Clock) -> None:
        self.connections = connections
        self.clock = clock
        # One rotation at a time per mount: a scheduled one and a rotate-role must not interleave.
        self._lock = asyncio.Lock()
        self._retry_after: dict[str, float] = {}

    async def rotate(self, storage: Storage, name: str, role: StaticRole) -> StaticRole:
        async with self._lock:
            return await self._rotate(storage, name, role)

    async def _rotate(self, storage: Storage, name: str, role: StaticRole) -> StaticRole:
        _, database = await self.connections.get(storage, role.db_name)
        if not role.pending_password:
            role.pending_password = generate_password()
            await STATIC_ROLES.put(storage, name, role)
        await database.change_password(role.username, role.pending_password, role.rotation_statements)
        role.password, role.pending_password = role.pending_password, ""
        role.last_vault_rotation = self.clock().timestamp()
        await STATIC_ROLES.put(storage, name, role)
        self._retry_after.pop(name, None)
        return role

    async def rotate_due(self, storage: Storage) -> int:
        """Rotate every static role whose period has passed (or whose last rotation did not finish);
        returns how many were rotated. One role failing does not hold up the others."""
        now = self.clock().timestamp()
        rotated = 0
        for name in await STATIC_ROLES.names(storage):
            if self._retry_after.get(name, 0.0) > now:
                continue
            async with self._lock:
                role = await STATIC_ROLES.get(storage, name)
                if role is None or (role.next_rotation() > now and not role.pending_password):
                    continue
                try:
                    await self._rotate(storage, name, role)
                except Sealed:
                    raise
                except EngineError as exc:
                    self._retry_after[name] = now + ROTATION_RETRY
                    log.warning("static role %s: password rotation failed, retrying in %ds: %s",
                                name, ROTATION_RETRY, exc.message)
                    continue
            log.info("static role %s: password rotated", name)
            rotated += 1
        return rotated

    def forget(self, name: str) -> None:
        self._retry_after.pop(name, None)
