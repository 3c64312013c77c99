"""The database secrets engine (Vault's builtin/logical/database), PostgreSQL first: connections to
databases, dynamic roles whose credentials are made per request and end with their lease, and static
roles whose existing users' passwords the engine rotates on a schedule."""

from __future__ import annotations

from engine.backends.database.connections import Connections
from engine.backends.database.leases import CredentialLeases
from engine.backends.database.paths_config import ConfigPaths
from engine.backends.database.paths_roles import RolePaths
from engine.backends.database.paths_static import StaticRolePaths
from engine.backends.database.rotation import StaticRotation
from engine.framework import Backend, SecretLease
from engine.mounts import BackendFactory, MountEntry
from engine.request import Secret
from engine.storage.base import Storage
from engine.tokens import Clock


class DatabaseBackend(Backend):
    def __init__(self, mount: MountEntry, clock: Clock) -> None:
        self.connections = Connections()
        self.leases = CredentialLeases(self.connections, mount, clock)
        self.rotation = StaticRotation(self.connections, clock)
        self.paths = [
            *ConfigPaths(self.connections).paths(),
            *RolePaths(self.leases).paths(),
            *StaticRolePaths(self.connections, self.rotation, clock).paths(),
        ]

    async def revoke_secret(self, lease: SecretLease, storage: Storage) -> None:
        await self.leases.revoke(lease, storage)

    async def renew_secret(self, lease: SecretLease, storage: Storage) -> Secret | None:
        return await self.leases.renew(lease, storage)

    async def periodic(self, storage: Storage) -> None:
        await self.rotation.rotate_due(storage)

    async def cleanup(self) -> None:
        await self.connections.close_all()


def database_factory(clock: Clock) -> BackendFactory:
    """The mount factory, with the core's clock (credential expiry, rotation schedule)."""

    def make(entry: MountEntry) -> Backend:
        return DatabaseBackend(entry, clock)

    return make
