"""Dynamic credentials and their leases: creds/:role makes a login role that expires by itself (VALID
UNTIL, a few seconds after its lease), renewal moves that time, revocation drops the role. The lease's
internal data names the user, role and connection, so revocation works even after the role is gone."""

from __future__ import annotations

from datetime import timedelta

from engine.backends.database.connections import Connections
from engine.backends.database.credentials import generate_password, generate_username
from engine.backends.database.records import ROLES, DynamicRole
from engine.errors import BadRequest, EngineError
from engine.framework import SecretLease
from engine.mounts import MountEntry
from engine.request import Response, Secret
from engine.storage.base import Storage
from engine.tokens import Clock
from engine.tokens.ttl import Limits, calculate_ttl

# As Vault: the database keeps a user a little longer than its lease, so the lease (whose TTL the core
# settles again after this) always ends first and its revocation is what ends the user.
EXPIRATION_BUFFER = timedelta(seconds=5)


class CredentialLeases:
    def __init__(self, connections: Connections, mount: MountEntry, clock: Clock) -> None:
        self.connections = connections
        self.mount = mount
        self.clock = clock

    def _limits(self) -> Limits:
        # Read at each call: the mount entry is tuned in place.
        return Limits(default_ttl=self.mount.default_lease_ttl(), max_ttl=self.mount.max_lease_ttl())

    async def issue(self, storage: Storage, role_name: str, display_name: str) -> Response:
        role = await ROLES.get(storage, role_name)
        if role is None:
            raise BadRequest(f"unknown role: {role_name}")
        config, database = await self.connections.get(storage, role.db_name)
        if not config.allows(role_name):
            raise EngineError(f'"{role_name}" is not an allowed role')
        now = self.clock()
        ttl = calculate_ttl(
            self._limits(), now=int(now.timestamp()), backend_ttl=role.default_ttl, backend_max_ttl=role.max_ttl
        ).ttl
        username = generate_username(display_name, role_name, now)
        password = generate_password()
        await database.new_user(role.creation_statements, username, password, now + timedelta(seconds=ttl)
                                + EXPIRATION_BUFFER)
        secret = Secret(
            ttl=role.default_ttl,
            max_ttl=role.max_ttl,
            renewable=True,
            internal_data={
                "username": username,
                "role": role_name,
                "db_name": role.db_name,
                "revocation_statements": role.revocation_statements,
            },
        )
        return Response(data={"username": username, "password": password}, secret=secret)

    async def renew(self, lease: SecretLease, storage: Storage) -> Secret:
        role_name = str(lease.internal_data.get("role", ""))
        role = await ROLES.get(storage, role_name)
        if role is None:
            raise BadRequest(f'error during renew: could not find role with name "{role_name}"')
        now = self.clock()
        ttl = calculate_ttl(
            self._limits(), now=int(now.timestamp()), start=int(lease.issue_time.timestamp()),
            increment=lease.increment, backend_ttl=role.default_ttl, backend_max_ttl=role.max_ttl,
        ).ttl
        if ttl > 0:
            _, database = await self.connections.get(storage, _db_name(lease, role))
            expiration = now + timedelta(seconds=ttl) + EXPIRATION_BUFFER
            await database.update_expiration(_username(lease), expiration, role.renew_statements)
        return Secret(ttl=role.default_ttl, max_ttl=role.max_ttl, renewable=True, internal_data=lease.internal_data)

    async def revoke(self, lease: SecretLease, storage: Storage) -> None:
        role = await ROLES.get(storage, str(lease.internal_data.get("role", "")))
        # The role's statements as they are now, or as they were at issue if the role is gone (Vault).
        revocation = role.revocation_statements if role is not None else list(
            lease.internal_data.get("revocation_statements") or []
        )
        _, database = await self.connections.get(storage, _db_name(lease, role))
        await database.delete_user(_username(lease), revocation)


def _username(lease: SecretLease) -> str:
    username = lease.internal_data.get("username")
    if not isinstance(username, str) or not username:
        raise BadRequest("secret is missing username internal data")
    return username


def _db_name(lease: SecretLease, role: DynamicRole | None) -> str:
    name = lease.internal_data.get("db_name") or (role.db_name if role is not None else "")
    if not name:
        raise BadRequest("could not find the database of this secret")
    return str(name)
