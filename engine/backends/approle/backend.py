"""The approle auth method (Vault's builtin/credential/approle), assembled from its path groups."""

from __future__ import annotations

from engine.backends.approle.context import ApproleContext
from engine.backends.approle.login import LoginPaths
from engine.backends.approle.roles import RolePaths
from engine.backends.approle.secret_ids import SecretIdPaths
from engine.backends.lockout import Lockout
from engine.framework import Backend, SpecialPaths
from engine.mounts import MountEntry
from engine.request import Auth
from engine.storage.base import Storage
from engine.tokens import Clock


class ApproleBackend(Backend):
    special_paths = SpecialPaths(unauthenticated=("login",))

    def __init__(self, mount: MountEntry, clock: Clock) -> None:
        self.mount = mount
        self.context = ApproleContext(mount, clock, Lockout(mount, clock))
        self._login = LoginPaths(self.context)
        groups = (RolePaths(self.context), SecretIdPaths(self.context), self._login)
        self.paths = [path for group in groups for path in group.paths()]

    async def renew_auth(self, auth: Auth, storage: Storage) -> Auth | None:
        return await self._login.renew_auth(auth, storage)


def approle_factory(mount: MountEntry, clock: Clock) -> Backend:
    return ApproleBackend(mount, clock)
