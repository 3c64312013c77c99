"""config/:name (connections to databases), reset/:name and rotate-root/:name."""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.backends.database.connections import Connections, make_database
from engine.backends.database.credentials import generate_password
from engine.backends.database.records import CONFIGS, ConnectionConfig
from engine.backends.database.statements import check_identifier
from engine.errors import BadRequest, EngineError
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

NAME = r"(?P<name>[\w.-]+)"
# The fields the engine keeps for itself; everything else sent to config/:name is the plugin's
# connection_details (connection_url, username, password, max_open_connections, ...).
_CONFIG_FIELDS = {
    "plugin_name": Field(FieldType.STRING, description="The plugin: postgresql-database-plugin."),
    "plugin_version": Field(FieldType.STRING, description="Accepted for Vault compatibility."),
    "verify_connection": Field(FieldType.BOOL, default=True, description="Connect once before saving."),
    "allowed_roles": Field(FieldType.LIST, description='Roles that may use this connection ("*": all).'),
    "root_rotation_statements": Field(FieldType.STRING_LIST, description="SQL to rotate the root password."),
    "password_policy": Field(FieldType.STRING, description="Not supported: the default policy is used."),
    "connection_url": Field(FieldType.STRING, description="postgresql://{{username}}:{{password}}@host/db"),
    "username": Field(FieldType.STRING, description="The user the engine connects as."),
    "password": Field(FieldType.STRING, description="That user's password (never shown again)."),
}
_ENGINE_FIELDS = {"name", *(k for k in _CONFIG_FIELDS if k not in ("connection_url", "username", "password"))}
PASSWORD_IN_URL_WARNING = (
    "Password found in connection_url, use a templated url to enable root rotation and prevent read access "
    "to password information."
)


class ConfigPaths:
    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def paths(self) -> list[Path]:
        return [
            Path(r"config/?", operations={Op.LIST: self.list}, synopsis="List the configured connections."),
            Path(
                rf"config/{NAME}",
                fields=_CONFIG_FIELDS,
                operations={Op.CREATE: self.write, Op.UPDATE: self.write, Op.READ: self.read, Op.DELETE: self.delete},
                existence_check=self.exists,
                takes_arbitrary_input=True,
                synopsis="Configure a connection to a database.",
            ),
            Path(
                rf"reset/{NAME}",
                operations={Op.UPDATE: self.reset},
                synopsis="Close the connection and open it again from its configuration.",
            ),
            Path(
                rf"rotate-root/{NAME}",
                operations={Op.UPDATE: self.rotate_root},
                synopsis="Change the configured user's password to one only the engine knows.",
            ),
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await CONFIGS.get(storage, data.get("name")) is not None

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response:
        return Response(data={"keys": await CONFIGS.names(storage)})

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        config = await CONFIGS.get(storage, data.get("name"))
        return None if config is None else Response(data=config.shown())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("name")
        existing = await CONFIGS.get(storage, name)
        config = existing or ConnectionConfig(plugin_name="")
        for field_name in ("plugin_name", "verify_connection", "allowed_roles", "password_policy"):
            value, given = data.get_ok(field_name)
            if given or existing is None:
                setattr(config, field_name, value)
        statements, given = data.get_ok("root_rotation_statements")
        if given or existing is None:
            config.root_credentials_rotate_statements = statements
        if not config.plugin_name:
            raise BadRequest("empty plugin name")
        if config.password_policy:
            raise BadRequest("password policies are not supported; leave password_policy empty")
        # An update merges the new connection details over the stored ones, as Vault's does.
        sent = {k: v for k, v in data.raw.items() if k not in _ENGINE_FIELDS and v is not None}
        config.connection_details = {**config.connection_details, **sent}
        database = make_database(config)
        if config.verify_connection:
            try:
                await database.verify()
            except EngineError as exc:
                await database.close()
                raise BadRequest(f"error creating database object: error verifying connection: {exc.message}") from None
        await CONFIGS.put(storage, name, config)
        await self.connections.replace(name, database)
        if _password_in_url(str(config.connection_details.get("connection_url") or "")):
            return Response(warnings=[PASSWORD_IN_URL_WARNING])
        return None

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        await CONFIGS.delete(storage, name)
        await self.connections.replace(name, None)

    async def reset(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        await self.connections.config(storage, name)
        await self.connections.replace(name, None)
        config, database = await self.connections.get(storage, name)
        if config.verify_connection:
            await database.verify()

    async def rotate_root(self, req: Request, data: FieldData, storage: Storage) -> None:
        name = data.get("name")
        config, database = await self.connections.get(storage, name)
        username = str(config.connection_details.get("username") or "")
        if not username:
            raise EngineError("unable to rotate root credentials: no username in configuration")
        if not config.connection_details.get("password"):
            raise EngineError("unable to rotate root credentials: no password in configuration")
        check_identifier(username, "the configured username")
        async with self.connections.root_rotation:
            config.pending_root_password = generate_password()
            await CONFIGS.put(storage, name, config)
            await database.change_password(username, config.pending_root_password,
                                           config.root_credentials_rotate_statements)
            config.connection_details["password"], config.pending_root_password = config.pending_root_password, ""
            await CONFIGS.put(storage, name, config)
        # New connections must log in with the new password; the old pool goes.
        await self.connections.replace(name, make_database(config))


def _password_in_url(url: str) -> bool:
    try:
        password = urlsplit(url).password
    except ValueError:
        return False
    return bool(password) and password != "{{password}}"
