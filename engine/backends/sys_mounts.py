"""sys/mounts: enable, read, tune and disable secret engines. Disabling one revokes its leases first
(through the expiration manager, when there is one) and then deletes its data."""

from __future__ import annotations

from typing import Any

from engine.backends.mount_tune import (
    TUNE_FIELDS,
    check_listing_visibility,
    lockout_view,
    mount_for_tune_read,
    tune,
    tune_info,
)
from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Handler, Path, parse_duration
from engine.mounts import SYSTEM_MAX_LEASE_TTL, BeforeChange, MountConfig, MountEntry
from engine.request import Op, Request, Response
from engine.storage.base import Storage

# The body of sys/mounts/<path> and sys/auth/<path>.
ENABLE_FIELDS = {
    "type": Field(FieldType.STRING),
    "description": Field(FieldType.STRING),
    "config": Field(FieldType.MAP),
    "options": Field(FieldType.KV_PAIRS),
    "local": Field(FieldType.BOOL),
    "seal_wrap": Field(FieldType.BOOL),
    "external_entropy_access": Field(FieldType.BOOL),
    "plugin_name": Field(FieldType.STRING),
    "plugin_version": Field(FieldType.STRING),
}
_MOUNT_FIELDS = {"path": Field(FieldType.STRING), **ENABLE_FIELDS}

# Vault's aliases that pick a KV version through the type name.
_KV_ALIASES = {"kv-v1": "1", "kv-v2": "2"}

_CONFIG_LISTS = (
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "passthrough_request_headers",
    "allowed_response_headers",
)


def mount_info(entry: MountEntry) -> dict[str, Any]:
    """One mount as sys/mounts and sys/auth show it (0 TTLs mean the system defaults, as in Vault)."""
    config: dict[str, Any] = {
        "default_lease_ttl": entry.config.default_lease_ttl,
        "max_lease_ttl": entry.config.max_lease_ttl,
        "force_no_cache": entry.config.force_no_cache,
    }
    for name in _CONFIG_LISTS:
        if getattr(entry.config, name):
            config[name] = list(getattr(entry.config, name))
    if entry.config.listing_visibility:
        config["listing_visibility"] = entry.config.listing_visibility
    if entry.is_auth:
        config["token_type"] = entry.config.token_type or "default-service"
    if entry.config.user_lockout_config is not None:
        config["user_lockout_config"] = lockout_view(entry, prefix="user_lockout_")
    return {
        "type": entry.type,
        "description": entry.description,
        "accessor": entry.accessor,
        "config": config,
        "external_entropy_access": entry.external_entropy_access,
        "local": entry.local,
        "seal_wrap": entry.seal_wrap,
        "options": entry.options,
        "uuid": entry.uuid,
        "plugin_version": "",
        "running_plugin_version": "",
        "running_sha256": "",
    }


def mount_config(raw: dict[str, Any]) -> MountConfig:
    """The `config` object of sys/mounts/<path> and sys/auth/<path>, with Vault's checks (the auth
    method's token_type is read by sys/auth itself)."""
    config = MountConfig(force_no_cache=bool(raw.get("force_no_cache", False)))
    for name, label in (("default_lease_ttl", "default"), ("max_lease_ttl", "max")):
        value = raw.get(name)
        if value in (None, "", "system"):
            continue
        try:
            setattr(config, name, parse_duration(value))
        except ValueError:
            raise BadRequest(f"unable to parse {label} TTL of {value}") from None
    if config.max_lease_ttl and config.default_lease_ttl > config.max_lease_ttl:
        raise BadRequest("given default lease TTL greater than given max lease TTL")
    if not config.max_lease_ttl and config.default_lease_ttl > SYSTEM_MAX_LEASE_TTL:
        raise BadRequest(f"given default lease TTL greater than system max lease TTL of {SYSTEM_MAX_LEASE_TTL}")
    config.listing_visibility = check_listing_visibility(str(raw.get("listing_visibility") or ""))
    for name in _CONFIG_LISTS:
        value = raw.get(name)
        if isinstance(value, str):
            value = value.split(",")
        if value:
            config_list = [str(item).strip() for item in value if str(item).strip()]
            setattr(config, name, config_list)
    return config


def new_mount(
    data: FieldData, path: str, mount_type: str, options: dict[str, Any] | None, config: MountConfig
) -> MountEntry:
    """The entry an enable of sys/mounts or sys/auth adds, once its type, options and config are checked."""
    return MountEntry(
        path=path,
        type=mount_type,
        description=data.get("description"),
        options=options,
        local=data.get("local"),
        seal_wrap=data.get("seal_wrap"),
        external_entropy_access=data.get("external_entropy_access"),
        config=config,
    )


def section_paths(
    root: str,
    fields: dict[str, Field],
    *,
    list_all: Handler,
    read: Handler,
    enable: Handler,
    disable: Handler,
    read_tune: Handler,
    tune: Handler,
    synopses: tuple[str, str, str],
) -> list[Path]:
    """The paths of sys/mounts and sys/auth: root lists, root/<path> enables, reads and disables, and
    root/<path>/tune reads and tunes."""
    return [
        Path(root, operations={Op.READ: list_all}, synopsis=synopses[0]),
        Path(
            # Not ".../tune": that is the next path's, and patterns must not overlap.
            rf"{root}/(?P<path>(?!.*/tune$).+)",
            fields=fields,
            operations={Op.READ: read, Op.UPDATE: enable, Op.DELETE: disable},
            synopsis=synopses[1],
        ),
        Path(
            rf"{root}/(?P<path>.+)/tune",
            fields=TUNE_FIELDS,
            operations={Op.READ: read_tune, Op.UPDATE: tune},
            synopsis=synopses[2],
        ),
    ]


def revoke_leases(context: SystemContext) -> BeforeChange:
    """The hook a disable or remount calls with the mount's path: every lease (and, for an auth mount,
    every token) issued under it is revoked, as Vault does, while the backend can still answer."""

    async def revoke(prefix: str) -> None:
        expiration = context.expiration
        if expiration is not None:
            await expiration.revoke_prefix(prefix, force=True)

    return revoke


class MountsSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context
        self.mounts = context.mounts

    def paths(self) -> list[Path]:
        return section_paths(
            "mounts",
            _MOUNT_FIELDS,
            list_all=self.list_mounts,
            read=self.read_mount,
            enable=self.enable,
            disable=self.disable,
            read_tune=self.read_tune,
            tune=self.tune,
            synopses=(
                "List the secret engines.",
                "Enable, read or disable the secret engine mounted at a path.",
                "Read or tune a mount's settings (auth mounts too, as auth/<path>).",
            ),
        )

    async def list_mounts(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data={entry.path: mount_info(entry) for entry in self.mounts.secret_mounts()})

    async def read_mount(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        path = data.get("path")
        entry = self.mounts.find_secret_mount(path)
        if entry is None:
            raise BadRequest(f"No secret engine mount at {path.lstrip('/').rstrip('/')}/")
        return Response(data=mount_info(entry))

    async def read_tune(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=tune_info(mount_for_tune_read(self.mounts, data.get("path"))))

    async def tune(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await tune(self.mounts, data.get("path"), data)

    async def enable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        mount_type = data.get("type")
        if not mount_type:
            raise BadRequest("backend type must be specified as a string")
        options = data.get("options") or None
        if mount_type in _KV_ALIASES:
            options = {**(options or {}), "version": _KV_ALIASES[mount_type]}
            mount_type = "kv"
        elif mount_type != "kv" and (options or {}).get("version"):
            # Only kv has versions (the option picks v1 or v2); Vault refuses it for any other engine.
            raise BadRequest(f'secrets engine "{mount_type}" does not allow setting a version')
        entry = new_mount(data, data.get("path"), mount_type, options, mount_config(data.get("config")))
        await self.mounts.enable(entry)
        return None

    async def disable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.mounts.disable(data.get("path"), before=revoke_leases(self.context))
        return None
