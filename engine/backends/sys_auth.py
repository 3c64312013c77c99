"""sys/auth: list, enable, read, tune and disable auth methods (Vault's /sys/auth API). Paths here are
relative to auth/: "userpass" is the method mounted at auth/userpass/. Disabling a method revokes every
token and lease issued through it, then deletes its data."""

from __future__ import annotations

from engine.backends.mount_tune import TUNE_FIELDS, auth_token_type, mount_for_tune_read, tune, tune_info
from engine.backends.sys_mounts import mount_config, mount_info, revoke_leases
from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.mounts import AUTH_PREFIX, MountEntry, sanitize_mount_path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_ENABLE_FIELDS = {
    "type": Field(FieldType.STRING, description='The auth method type, such as "userpass".'),
    "description": Field(FieldType.STRING),
    "config": Field(FieldType.MAP),
    "options": Field(FieldType.KV_PAIRS),
    "local": Field(FieldType.BOOL),
    "seal_wrap": Field(FieldType.BOOL),
    "external_entropy_access": Field(FieldType.BOOL),
    "plugin_name": Field(FieldType.STRING),
    "plugin_version": Field(FieldType.STRING),
}


class AuthSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context
        self.mounts = context.mounts

    def paths(self) -> list[Path]:
        return [
            Path("auth", operations={Op.READ: self.list_auth}, synopsis="List the enabled auth methods."),
            Path(
                # Not ".../tune": that is the next path's, and patterns must not overlap.
                r"auth/(?P<path>(?!.*/tune$).+)",
                fields=_ENABLE_FIELDS,
                operations={Op.READ: self.read_auth, Op.UPDATE: self.enable, Op.DELETE: self.disable},
                synopsis="Enable, read or disable the auth method at a path.",
            ),
            Path(
                r"auth/(?P<path>.+)/tune",
                fields=TUNE_FIELDS,
                operations={Op.READ: self.read_tune, Op.UPDATE: self.tune},
                synopsis="Read or tune an auth method's settings.",
            ),
        ]

    async def list_auth(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(
            data={entry.path.removeprefix(AUTH_PREFIX): mount_info(entry) for entry in self.mounts.auth_mounts()}
        )

    async def read_auth(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        path = data.get("path")
        entry = self.mounts.auth_mount(path)
        if entry is None:
            raise BadRequest(f"No auth engine at {sanitize_mount_path(path)}")
        return Response(data=mount_info(entry))

    async def enable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        raw_config = data.get("config")
        config = mount_config(raw_config)
        config.token_type = auth_token_type(str(raw_config.get("token_type") or ""))
        method = data.get("type")
        if not method:
            raise BadRequest("backend type must be specified as a string")
        options = data.get("options") or None
        if options and options.get("version"):
            raise BadRequest(f'auth method "{method}" does not allow setting a version')
        entry = MountEntry(
            path=AUTH_PREFIX + sanitize_mount_path(data.get("path")),
            type=method,
            description=data.get("description"),
            options=options,
            local=data.get("local"),
            seal_wrap=data.get("seal_wrap"),
            external_entropy_access=data.get("external_entropy_access"),
            config=config,
        )
        await self.mounts.enable_auth(entry)
        return None

    async def disable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.mounts.disable_auth(data.get("path"), before=revoke_leases(self.context))
        return None

    async def read_tune(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=tune_info(mount_for_tune_read(self.mounts, AUTH_PREFIX + data.get("path"))))

    async def tune(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await tune(self.mounts, AUTH_PREFIX + data.get("path"), data)
