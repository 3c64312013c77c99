"""static-roles/:name (existing database users whose password the engine owns and rotates),
static-creds/:name (the current password) and rotate-role/:name (rotate now)."""

from __future__ import annotations

from engine.backends.database.connections import Connections
from engine.backends.database.paths_config import NAME
from engine.backends.database.records import ROLES, STATIC_ROLES, StaticRole, rfc3339
from engine.backends.database.rotation import StaticRotation
from engine.backends.database.statements import check_identifier
from engine.errors import BadRequest, EngineError
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import Clock

MIN_ROTATION_PERIOD = 5  # seconds, Vault's minimum

_STATIC_FIELDS = {
    "db_name": Field(FieldType.STRING, description="The connection (config/:name) this role uses."),
    "username": Field(FieldType.STRING, description="The existing database user; cannot be changed later."),
    "rotation_period": Field(FieldType.DURATION, description="How often the password changes (>= 5s)."),
    "rotation_statements": Field(
        FieldType.STRING_LIST, description="SQL to change the password. Default: ALTER ROLE ... WITH PASSWORD."
    ),
    "credential_type": Field(FieldType.STRING, default="password", description='Only "password".'),
}


class StaticRolePaths:
    def __init__(self, connections: Connections, rotation: StaticRotation, clock: Clock) -> None:
        self.connections = connections
        self.rotation = rotation
        self.clock = clock

    def paths(self) -> list[Path]:
        return [
            Path(r"static-roles/?", operations={Op.LIST: self.list}, synopsis="List the static roles."),
            Path(
                rf"static-roles/{NAME}",
                fields=_STATIC_FIELDS,
                operations={Op.CREATE: self.write, Op.UPDATE: self.write, Op.READ: self.read, Op.DELETE: self.delete},
                existence_check=self.exists,
                synopsis="Manage a database user whose password the engine rotates.",
            ),
            Path(
                rf"static-creds/{NAME}",
                operations={Op.READ: self.creds},
                synopsis="The static role's current password.",
            ),
            Path(
                rf"rotate-role/{NAME}",
                operations={Op.UPDATE: self.rotate},
                synopsis="Rotate the static role's password now.",
            ),
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await STATIC_ROLES.get(storage, data.get("name")) is not None

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response:
        return Response(data={"keys": await STATIC_ROLES.names(storage)})

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await STATIC_ROLES.get(storage, data.get("name"))
        return None if role is None else Response(data=role.shown())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        existing = await STATIC_ROLES.get(storage, name)
        if existing is None and await ROLES.get(storage, name) is not None:
            raise BadRequest("Role and Static Role names must be unique")
        if data.get("credential_type") != "password":
            raise BadRequest('credential_type: only "password" is supported')
        role = existing or _new_role(data)
        db_name, given = data.get_ok("db_name")
        if existing is not None and given and db_name != existing.db_name:
            raise BadRequest("cannot update static account database name")
        username, given = data.get_ok("username")
        if existing is not None and given and username != existing.username:
            raise BadRequest("cannot update static account username")
        period, given = data.get_ok("rotation_period")
        if given:
            role.rotation_period = period
        if role.rotation_period < MIN_ROTATION_PERIOD:
            raise BadRequest(f"rotation_period must be {MIN_ROTATION_PERIOD} seconds or more")
        statements, given = data.get_ok("rotation_statements")
        if given:
            role.rotation_statements = statements
        if existing is not None:
            await STATIC_ROLES.put(storage, name, role)
            return
        await self.connections.config(storage, role.db_name)
        # Vault rotates at creation: from now on only the engine knows the password.
        try:
            await self.rotation.rotate(storage, name, role)
        except EngineError as exc:
            await STATIC_ROLES.delete(storage, name)
            raise type(exc)(f"error setting credentials: {exc.message}") from None

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        await STATIC_ROLES.delete(storage, name)
        self.rotation.forget(name)

    async def creds(self, req: Request, data: FieldData, storage: Storage) -> Response:
        name = data.get("name")
        role = await STATIC_ROLES.get(storage, name)
        if role is None:
            raise BadRequest(f"unknown role: {name}")
        ttl = max(0, int(role.next_rotation() - self.clock().timestamp()))
        return Response(
            data={
                "username": role.username,
                "password": role.password,
                "last_vault_rotation": rfc3339(role.last_vault_rotation),
                "rotation_period": role.rotation_period,
                "ttl": ttl,
            }
        )

    async def rotate(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        role = await STATIC_ROLES.get(storage, name)
        if role is None:
            raise BadRequest("no static role found for role name")
        await self.rotation.rotate(storage, name, role)


def _new_role(data: FieldData) -> StaticRole:
    db_name = data.get("db_name")
    if not db_name:
        raise BadRequest("database name is a required field")
    username = data.get("username")
    if not username:
        raise BadRequest("username is a required field to create a static account")
    check_identifier(username, "username")
    if not data.get_ok("rotation_period")[1]:
        raise BadRequest("rotation_period is required to create static accounts")
    return StaticRole(db_name=db_name, username=username, rotation_period=data.get("rotation_period"))
