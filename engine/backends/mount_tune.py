"""Tuning a mount (Vault's handleTuneReadCommon / handleTuneWriteCommon), shared by
sys/mounts/<path>/tune and sys/auth/<path>/tune: lease TTLs, description, token type, user lockout,
listing visibility, audit and header lists, options. Everything is checked before anything is written,
and the whole change is one write of the mount table."""

from __future__ import annotations

from typing import Any

from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, parse_duration
from engine.mounts import MountEntry, MountManager, sanitize_mount_path
from engine.request import Response

TUNE_FIELDS: dict[str, Field] = {
    # Strings, as in Vault: "" keeps the current value, "system" goes back to the system default.
    "default_lease_ttl": Field(FieldType.STRING, description="Default lease TTL of the mount."),
    "max_lease_ttl": Field(FieldType.STRING, description="Maximum lease TTL of the mount."),
    "description": Field(FieldType.STRING, description="The mount's description."),
    "audit_non_hmac_request_keys": Field(FieldType.LIST),
    "audit_non_hmac_response_keys": Field(FieldType.LIST),
    "listing_visibility": Field(FieldType.STRING, description='"unauth" or "hidden".'),
    "passthrough_request_headers": Field(FieldType.LIST),
    "allowed_response_headers": Field(FieldType.LIST),
    "token_type": Field(FieldType.STRING, description="Auth mounts: the type of tokens logins get."),
    "user_lockout_config": Field(FieldType.MAP, description="Auth mounts: user lockout settings."),
    "options": Field(FieldType.KV_PAIRS, description="Mount type specific options."),
}

UNTUNABLE_PREFIXES = ("cubbyhole/", "sys/", "audit/", "identity/")
LISTING_VISIBILITY = ("", "unauth", "hidden")
AUTH_TOKEN_TYPES = {"": "default-service", "default-service": "default-service", "default-batch": "default-batch",
                    "service": "service", "batch": "batch"}  # fmt: skip
LOCKOUT_TYPES = ("ldap", "approle", "userpass")
_LIST_SETTINGS = (
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "passthrough_request_headers",
    "allowed_response_headers",
)


def check_listing_visibility(value: str) -> str:
    if value not in LISTING_VISIBILITY:
        raise BadRequest(f"invalid listing_visibility {value}")
    return value


def auth_token_type(value: str) -> str:
    if value not in AUTH_TOKEN_TYPES:
        raise BadRequest("invalid value for 'token_type'")
    return AUTH_TOKEN_TYPES[value]


def lockout_view(entry: MountEntry, *, prefix: str) -> dict[str, Any]:
    """The tuned lockout settings as Vault shows them (keys prefixed with "user_lockout_")."""
    tuned = entry.config.user_lockout_config or {}
    return {
        f"{prefix}counter_reset_duration": int(tuned.get("lockout_counter_reset", 0)),
        f"{prefix}threshold": int(tuned.get("lockout_threshold", 0)),
        f"{prefix}duration": int(tuned.get("lockout_duration", 0)),
        f"{prefix}disable": bool(tuned.get("lockout_disable", False)),
    }


def tune_info(entry: MountEntry) -> dict[str, Any]:
    """GET sys/mounts/<path>/tune and sys/auth/<path>/tune: the effective settings."""
    config = entry.config
    info: dict[str, Any] = {
        "description": entry.description,
        "default_lease_ttl": entry.default_lease_ttl(),
        "max_lease_ttl": entry.max_lease_ttl(),
        "force_no_cache": config.force_no_cache,
    }
    if entry.external_entropy_access:
        info["external_entropy_access"] = True
    if entry.is_auth:
        info["token_type"] = config.token_type or "default-service"
    for name in ("audit_non_hmac_request_keys", "audit_non_hmac_response_keys"):
        if getattr(config, name):
            info[name] = list(getattr(config, name))
    if config.listing_visibility:
        info["listing_visibility"] = config.listing_visibility
    for name in ("passthrough_request_headers", "allowed_response_headers"):
        if getattr(config, name):
            info[name] = list(getattr(config, name))
    if config.user_lockout_config is not None:
        info.update(lockout_view(entry, prefix="user_lockout_"))
    if entry.options:
        info["options"] = dict(entry.options)
    return info


def mount_for_tune_read(mounts: MountManager, path: str) -> MountEntry:
    entry = mounts.find_mount(path)
    if entry is None:
        raise BadRequest(f'cannot fetch sysview for path "{sanitize_mount_path(path)}"')
    return entry


def _ttl(value: str, current: int) -> int:
    if value == "":
        return current
    if value == "system":
        return 0
    try:
        return parse_duration(value)
    except ValueError:
        raise BadRequest(f'time: invalid duration "{value}"') from None


def _lockout_config(entry: MountEntry, raw: dict[str, Any]) -> dict[str, Any]:
    if entry.type.lower() not in LOCKOUT_TYPES:
        raise BadRequest(f'tuning of user lockout configuration for auth type "{entry.type}" not allowed')
    tuned = dict(entry.config.user_lockout_config or {})
    threshold = raw.get("lockout_threshold")
    if threshold not in (None, ""):
        try:
            tuned["lockout_threshold"] = int(str(threshold))
            if tuned["lockout_threshold"] < 0:
                raise ValueError(threshold)
        except ValueError:
            raise BadRequest(f'unable to parse user lockout threshold: invalid syntax "{threshold}"') from None
    for name in ("lockout_duration", "lockout_counter_reset"):
        value = raw.get(name)
        if value not in (None, ""):
            tuned[name] = _ttl(str(value), 0)
    disable = raw.get("lockout_disable")
    if disable is not None:
        if isinstance(disable, str):
            disable = disable.lower() in ("1", "t", "true")
        tuned["lockout_disable"] = bool(disable)
    return tuned


def _options(entry: MountEntry, options: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """The merged options and, for a KV version upgrade, Vault's warning."""
    warning = None
    if "version" in options:
        current = int((entry.options or {}).get("version") or 0)
        try:
            wanted = int(options["version"])
        except ValueError:
            raise BadRequest(f"unable to parse options: invalid version {options['version']!r}") from None
        if wanted not in (1, 2):
            raise BadRequest(f"invalid version provided: {wanted}")
        if current > wanted:
            raise BadRequest(f"cannot downgrade mount from version {current}")
        if current < wanted:
            warning = (
                f"Upgrading mount from version {current} to version {wanted}. This mount will be unavailable "
                "for a brief period and will resume service shortly."
            )
    merged = dict(entry.options or {})
    for key, value in options.items():
        if value == "" and key != "version":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged, warning


async def tune(mounts: MountManager, path: str, data: FieldData) -> Response | None:
    """POST sys/mounts/<path>/tune (`path` may be an auth mount, "auth/<name>") and
    sys/auth/<name>/tune."""
    path = sanitize_mount_path(path)
    for prefix in UNTUNABLE_PREFIXES:
        if path.startswith(prefix):
            raise BadRequest(f'cannot tune "{path}"')
    entry = mounts.find_mount(path)
    if entry is None:
        raise BadRequest(f'tune of path "{path}" failed: no mount entry found')

    changes: dict[str, Any] = {}
    default_ttl = _ttl(data.get("default_lease_ttl"), entry.config.default_lease_ttl)
    max_ttl = _ttl(data.get("max_lease_ttl"), entry.config.max_lease_ttl)
    if default_ttl and max_ttl and max_ttl < default_ttl:
        raise BadRequest(
            f"backend max lease TTL of {max_ttl} would be less than backend default lease TTL of {default_ttl}"
        )
    changes["default_lease_ttl"], changes["max_lease_ttl"] = default_ttl, max_ttl

    lockout_raw = data.get("user_lockout_config")
    if lockout_raw:
        changes["user_lockout_config"] = _lockout_config(entry, lockout_raw)
    for name in _LIST_SETTINGS:
        value, given = data.get_ok(name)
        if given:
            changes[name] = list(value)
    visibility, given = data.get_ok("listing_visibility")
    if given:
        changes["listing_visibility"] = check_listing_visibility(visibility)
    token_type, given = data.get_ok("token_type")
    if given:
        if not entry.is_auth:
            raise BadRequest("'token_type' can only be modified on auth mounts")
        if entry.type in ("token", "ns_token"):
            raise BadRequest("'token_type' cannot be set for 'token' or 'ns_token' auth mounts")
        changes["token_type"] = auth_token_type(token_type)

    description, description_given = data.get_ok("description")
    options = data.get("options")
    new_options, warning = _options(entry, options) if options else (entry.options, None)

    def apply(changed: MountEntry) -> None:
        for name, value in changes.items():
            setattr(changed.config, name, value)
        if description_given:
            changed.description = description
        changed.options = new_options

    await mounts.update(entry, apply, rebuild=warning is not None)
    return Response(warnings=[warning]) if warning else None
