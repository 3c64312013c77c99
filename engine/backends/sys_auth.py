"""sys/auth: list, enable, read, tune and disable auth methods (Vault's /sys/auth API). Paths here are
relative to auth/: "userpass" is the method mounted at auth/userpass/. Disabling a method revokes every
token and lease issued through it, then deletes its data."""

from __future__ import annotations

from engine.backends.mount_tune import auth_token_type, mount_for_tune_read, tune, tune_info
from engine.backends.sys_mounts import ENABLE_FIELDS, mount_config, mount_info, new_mount, revoke_leases, section_paths
from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.mounts import AUTH_PREFIX, sanitize_mount_path
from engine.request import Request, Response
from engine.storage.base import Storage

_ENABLE_FIELDS = {
    **ENABLE_FIELDS,
    "type": Field(FieldType.STRING, description='The auth method type, such as "userpass".'),
}


class AuthSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context
        self.mounts = context.mounts

    def paths(self) -> list[Path]:
        return section_paths(
            "auth",
            _ENABLE_FIELDS,
            list_all=self.list_auth,
            read=self.read_auth,
            enable=self.enable,
            disable=self.disable,
            read_tune=self.read_tune,
            tune=self.tune,
            synopses=(
                "List the enabled auth methods.",
                "Enable, read or disable the auth method at a path.",
                "Read or tune an auth method's settings.",
            ),
        )

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
        entry = new_mount(data, AUTH_PREFIX + sanitize_mount_path(data.get("path")), method, options, config)
        await self.mounts.enable_auth(entry)
        return None

    async def disable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.mounts.disable_auth(data.get("path"), before=revoke_leases(self.context))
        return None

    async def read_tune(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=tune_info(mount_for_tune_read(self.mounts, AUTH_PREFIX + data.get("path"))))

    async def tune(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await tune(self.mounts, AUTH_PREFIX + data.get("path"), data)
