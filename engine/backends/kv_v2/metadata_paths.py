"""metadata/<path>: a key's versions and settings (read, write, patch), deleting a key with every
version, and listing keys."""

from __future__ import annotations

from typing import Any

from engine.backends.kv_v2.context import KvContext
from engine.backends.kv_v2.inputs import parse_custom_metadata, validate_custom_metadata
from engine.backends.kv_v2.merge_patch import merge_patch
from engine.backends.kv_v2.records import KeyMetadata, KvConfig
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

CAS_MANDATED = '"cas_required" set to false, but is mandated by backend config. This value will be ignored.'

_FIELDS = {
    "max_versions": Field(FieldType.INT, description="Versions to keep; the mount's setting when 0."),
    "cas_required": Field(FieldType.BOOL, description="Whether every write to the key needs a cas."),
    "delete_version_after": Field(FieldType.DURATION, description="How long until a new version reads as deleted."),
    "custom_metadata": Field(FieldType.MAP, description="User-provided string pairs describing the secret."),
}


def _max_versions(data: FieldData) -> tuple[int, bool]:
    value, given = data.get_ok("max_versions")
    if given and value < 0:
        raise BadRequest("max_versions cannot be negative")
    return value, given


def _check_key(key: str) -> None:
    if key == "":
        raise BadRequest("missing path")
    if key.endswith("/"):
        # Vault's core refuses every write to a folder-like path before any backend sees it.
        raise BadRequest("cannot write to a path ending in '/'")


def _cas_warnings(data: FieldData, config: KvConfig) -> list[str]:
    cas_required, given = data.get_ok("cas_required")
    return [CAS_MANDATED] if given and config.cas_required and not cas_required else []


class MetadataSection:
    def __init__(self, context: KvContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        return [
            Path(
                r"metadata/(?P<path>.*)",
                fields=_FIELDS,
                operations={
                    Op.READ: self.read,
                    Op.CREATE: self.write,
                    Op.UPDATE: self.write,
                    Op.PATCH: self.patch,
                    Op.DELETE: self.delete,
                    Op.LIST: self.list,
                },
                existence_check=self.exists,
                synopsis="Allows interaction with key metadata and settings in the KV store.",
                description="Read a key's versions and settings, change its settings, delete the key with every "
                "version, or list keys.",
            )
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await self.context.store(storage).metadata(data.get("path")) is not None

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        meta = await self.context.store(storage).metadata(data.get("path"))
        return None if meta is None else Response(data=meta.view())

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        prefix = data.get("path")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        keys = await self.context.store(storage).list_metadata(prefix)
        return Response(data={"keys": keys} if keys else {})

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        _check_key(key)
        max_versions, max_given = _max_versions(data)
        cas_required, cas_given = data.get_ok("cas_required")
        delete_after, delete_after_given = data.get_ok("delete_version_after")
        custom_raw, custom_given = data.get_ok("custom_metadata")
        if not (max_given or cas_given or delete_after_given or custom_given):
            return None
        store = self.context.store(storage)
        config = await store.config()
        custom: dict[str, str] = {}
        if custom_given:
            custom = parse_custom_metadata(custom_raw)
            validate_custom_metadata(custom)
        warnings = _cas_warnings(data, config)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                now = self.context.now()
                meta = KeyMetadata(key, created_time=now, updated_time=now)
            if max_given:
                meta.max_versions = max_versions
            if cas_given:
                meta.cas_required = cas_required
            if delete_after_given:
                meta.delete_version_after = delete_after
            if custom_given:
                meta.custom_metadata = custom
            await store.commit([store.put_metadata(meta)])
        return Response(warnings=warnings) if warnings else None

    async def patch(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        _check_key(key)
        max_versions, max_given = _max_versions(data)
        custom_raw, custom_given = data.get_ok("custom_metadata")
        custom_patch: dict[str, Any] = {}
        if custom_given:
            kept = parse_custom_metadata(custom_raw, drop_nulls=True)
            validate_custom_metadata(kept)
            # The nulls stay in the patch: in a merge patch they remove keys.
            custom_patch = {k: (None if v is None else kept[str(k)]) for k, v in custom_raw.items()}
        store = self.context.store(storage)
        config = await store.config()
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            warnings = _cas_warnings(data, config)
            if max_given:
                meta.max_versions = max_versions
            cas_required, cas_given = data.get_ok("cas_required")
            if cas_given:
                meta.cas_required = cas_required
            delete_after, delete_after_given = data.get_ok("delete_version_after")
            if delete_after_given:
                meta.delete_version_after = delete_after
            if custom_given:
                meta.custom_metadata = merge_patch(meta.custom_metadata, custom_patch)
            await store.commit([store.put_metadata(meta)])
        # Not None: the core answers a PATCH that returns nothing with a 404.
        return Response(warnings=warnings) if warnings else Response(status=204)

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        store = self.context.store(storage)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            await store.commit([*store.delete_versions(key, sorted(meta.versions)), store.delete_metadata(key)])
        return None
