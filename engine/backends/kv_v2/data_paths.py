"""data/<path> (read a version, write, patch, soft-delete the latest) and subkeys/<path>.

A version that is deleted (its deletion_time has passed) or destroyed reads as a 404 whose body still
carries the version's metadata, as Vault answers: clients such as hvac tell "deleted" from "missing"
that way."""

from __future__ import annotations

from typing import Any

from engine.backends.kv_v2.context import KvContext
from engine.backends.kv_v2.inputs import check_cas
from engine.backends.kv_v2.merge_patch import merge_patch
from engine.backends.kv_v2.records import KeyMetadata, KvConfig, VersionMeta
from engine.backends.kv_v2.store import KvStore
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

NOT_FOUND = 404

_DATA_FIELDS = {
    "version": Field(FieldType.INT, description="The version to read; the latest when 0 or not given."),
    "options": Field(FieldType.MAP, description='Write options: "cas", the version the write expects.'),
    "data": Field(FieldType.MAP, description="The secret's contents."),
}

_SUBKEYS_FIELDS = {
    "version": Field(FieldType.INT, description="The version to read; the latest when 0 or not given."),
    "depth": Field(FieldType.INT, description="The deepest nesting level shown; 0 for no limit."),
}


def strip_values(tree: dict[str, Any], max_depth: int, depth: int = 1) -> dict[str, Any]:
    """The secret's structure without its values: every leaf (a non-object, or an empty object, or
    anything below `max_depth`) becomes null."""
    stripped: dict[str, Any] = {}
    for key, value in tree.items():
        deeper = depth + 1
        if isinstance(value, dict) and value and (max_depth == 0 or deeper <= max_depth):
            stripped[key] = strip_values(value, max_depth, deeper)
        else:
            stripped[key] = None
    return stripped


class DataSection:
    def __init__(self, context: KvContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        return [
            Path(
                r"data/(?P<path>.*[^/])",
                fields=_DATA_FIELDS,
                operations={
                    Op.READ: self.read,
                    Op.CREATE: self.write,
                    Op.UPDATE: self.write,
                    Op.PATCH: self.patch,
                    Op.DELETE: self.delete_latest,
                },
                existence_check=self.exists,
                synopsis="Write, Patch, Read, and Delete data in the Key-Value Store.",
                description="A write adds a version; a read returns the latest version, or the one named by "
                '"version"; a delete marks the latest version deleted (undo with undelete/).',
            ),
            Path(
                r"subkeys/(?P<path>.*)",
                fields=_SUBKEYS_FIELDS,
                operations={Op.READ: self.subkeys},
                synopsis="Read the structure of a secret entry from the Key-Value store with the values removed.",
            ),
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return await self.context.store(storage).has_metadata(data.get("path"))

    async def _version(self, store: KvStore, data: FieldData) -> tuple[KeyMetadata, int, VersionMeta] | None:
        """The version a read asks for, with its key's metadata: shared, read only (read and subkeys)."""
        meta = await store.metadata_for_reading(data.get("path"))
        if meta is None:
            return None
        wanted = data.get("version")
        number = wanted if wanted > 0 else meta.current_version
        version = meta.versions.get(number)
        return None if version is None else (meta, number, version)

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        store = self.context.store(storage)
        found = await self._version(store, data)
        if found is None:
            return None
        meta, number, version = found
        body: dict[str, Any] = {"data": None, "metadata": meta.version_view(number, version)}
        if version.unreadable(self.context.now()):
            return Response(data=body, status=NOT_FOUND)
        body["data"] = await store.version_data(meta.key, number)
        return Response(data=body)

    async def subkeys(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        store = self.context.store(storage)
        found = await self._version(store, data)
        if found is None:
            return None
        meta, number, version = found
        body: dict[str, Any] = {"subkeys": None, "metadata": meta.version_view(number, version)}
        if version.unreadable(self.context.now()):
            return Response(data=body, status=NOT_FOUND)
        body["subkeys"] = strip_values(await store.version_data(meta.key, number), data.get("depth"))
        return Response(data=body)

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        if key == "":
            raise BadRequest("missing path")
        store = self.context.store(storage)
        config = await store.config()
        secret, given = data.get_ok("data")
        if not given:
            raise BadRequest("no data provided")
        async with self.context.locks(key):
            meta = await store.metadata(key) or KeyMetadata(key)
            options, options_given = data.get_ok("options")
            check_cas(options, options_given, config, meta)
            return await self._add_version(store, config, meta, secret)

    async def patch(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        patch, given = data.get_ok("data")
        if not given:
            raise BadRequest("no data provided")
        store = self.context.store(storage)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            config = await store.config()
            options, options_given = data.get_ok("options")
            check_cas(options, options_given, config, meta)
            current = meta.versions.get(meta.current_version)
            if current is None:
                return None
            if current.unreadable(self.context.now()):
                return Response(data=meta.version_view(meta.current_version, current), status=NOT_FOUND)
            existing = await store.version_data(key, meta.current_version)
            return await self._add_version(store, config, meta, merge_patch(existing, patch))

    async def _add_version(
        self, store: KvStore, config: KvConfig, meta: KeyMetadata, secret: dict[str, Any]
    ) -> Response:
        now = self.context.now()
        version, dropped = meta.add_version(now, config.deletion_time(now, meta), config.max_versions)
        written = store.put_metadata(meta)
        # One batch: the new version, the metadata naming it, and the versions that fell out of the window.
        data = store.put_version(meta.key, meta.current_version, secret)
        await store.commit([data, written, *store.delete_versions(meta.key, dropped)])
        store.remember_written(written, meta)  # meta is only read from here on
        return Response(data=meta.version_view(meta.current_version, version))

    async def delete_latest(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        key = data.get("path")
        store = self.context.store(storage)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            now = self.context.now()
            latest = meta.versions.get(meta.current_version)
            if latest is None or latest.unreadable(now):
                return None
            latest.deletion_time = now
            await store.commit([store.put_metadata(meta)])
        return None
