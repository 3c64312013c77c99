"""roles/:name (dynamic roles: how to make a user) and creds/:name (make one, with a lease)."""

from __future__ import annotations

from engine.backends.database.leases import CredentialLeases
from engine.backends.database.paths_config import NAME
from engine.backends.database.records import ROLES, STATIC_ROLES, DynamicRole
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_STATEMENTS = "SQL statements; each may hold several, separated by ';'."
_ROLE_FIELDS = {
    "db_name": Field(FieldType.STRING, description="The connection (config/:name) this role uses."),
    "creation_statements": Field(FieldType.STRING_LIST, description=_STATEMENTS),
    "revocation_statements": Field(FieldType.STRING_LIST, description=_STATEMENTS + " Default: drop the user."),
    "rollback_statements": Field(FieldType.STRING_LIST, description="Accepted for Vault compatibility."),
    "renew_statements": Field(FieldType.STRING_LIST, description=_STATEMENTS + " Default: move VALID UNTIL."),
    "default_ttl": Field(FieldType.DURATION, description="Lease TTL of the credentials (0: the mount's)."),
    "max_ttl": Field(FieldType.DURATION, description="Longest the credentials may be renewed to."),
    "credential_type": Field(FieldType.STRING, default="password", description='Only "password".'),
}
_ROLE_SETTINGS = [name for name in _ROLE_FIELDS if name != "credential_type"]


class RolePaths:
    def __init__(self, leases: CredentialLeases) -> None:
        self.leases = leases

    def paths(self) -> list[Path]:
        return [
            Path(r"roles/?", operations={Op.LIST: self.list}, synopsis="List the dynamic roles."),
            Path(
                rf"roles/{NAME}",
                fields=_ROLE_FIELDS,
                operations={Op.CREATE: self.write, Op.UPDATE: self.write, Op.READ: self.read, Op.DELETE: self.delete},
                existence_check=self.exists,
                synopsis="Manage a role that makes database users on demand.",
            ),
            Path(
                rf"creds/{NAME}",
                operations={Op.READ: self.creds},
                synopsis="Make a database user for this role, with a lease.",
            ),
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await ROLES.get(storage, data.get("name")) is not None

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response:
        return Response(data={"keys": await ROLES.names(storage)})

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await ROLES.get(storage, data.get("name"))
        return None if role is None else Response(data=role.shown())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        existing = await ROLES.get(storage, name)
        if existing is None and await STATIC_ROLES.get(storage, name) is not None:
            raise BadRequest("Role and Static Role names must be unique")
        if data.get("credential_type") != "password":
            raise BadRequest('credential_type: only "password" is supported')
        role = existing or DynamicRole(db_name="")
        for setting in _ROLE_SETTINGS:
            value, given = data.get_ok(setting)
            if given or existing is None:
                setattr(role, setting, value)
        if not role.db_name:
            raise BadRequest("empty database name attribute")
        if not role.creation_statements:
            raise BadRequest("empty creation statements")
        if role.max_ttl and role.default_ttl > role.max_ttl:
            raise BadRequest("ttl cannot be greater than max_ttl")
        await ROLES.put(storage, name, role)

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> None:
        await ROLES.delete(storage, data.get("name"))

    async def creds(self, req: Request, data: FieldData, storage: Storage) -> Response:
        entry = req.token_entry
        display_name = str(getattr(entry, "display_name", "") or "token")
        return await self.leases.issue(storage, data.get("name"), display_name)
