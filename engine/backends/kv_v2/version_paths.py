"""delete/<path>, undelete/<path> and destroy/<path>: change chosen versions of a key. Versions that
do not exist (never written, or pruned) are skipped, as are destroyed ones; a key that does not exist
is not an error."""

from __future__ import annotations

from engine.backends.kv_v2.context import KvContext
from engine.backends.kv_v2.inputs import version_numbers
from engine.errors import BadRequest
from engine.framework import FieldData, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage


class VersionsSection:
    def __init__(self, context: KvContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        # "versions" is read from the raw input: Vault takes a list of ints, "1,2" or a single number.
        return [
            Path(
                r"delete/(?P<path>.*)",
                operations={Op.UPDATE: self.delete},
                takes_arbitrary_input=True,
                synopsis="Marks one or more versions as deleted in the KV store.",
            ),
            Path(
                r"undelete/(?P<path>.*)",
                operations={Op.UPDATE: self.undelete},
                takes_arbitrary_input=True,
                synopsis="Undeletes one or more versions from the KV store.",
            ),
            Path(
                r"destroy/(?P<path>.*)",
                operations={Op.UPDATE: self.destroy},
                takes_arbitrary_input=True,
                synopsis="Permanently removes one or more versions in the KV store",
            ),
        ]

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        numbers = version_numbers(data.raw.get("versions"))
        if not numbers:
            raise BadRequest("No version number provided")
        key = data.get("path")
        store = self.context.store(storage)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            now = self.context.now()
            for number in numbers:
                version = meta.versions.get(number)
                if version is None or version.unreadable(now):
                    continue
                version.deletion_time = now
            await store.commit([store.put_metadata(meta)])
        return None

    async def undelete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        numbers = version_numbers(data.raw.get("versions"))
        if not numbers:
            raise BadRequest("No version number provided")
        key = data.get("path")
        store = self.context.store(storage)
        config = await store.config()
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            now = self.context.now()
            for number in numbers:
                version = meta.versions.get(number)
                if version is None or version.destroyed:
                    continue
                # An undeleted version starts a fresh delete_version_after period, as in Vault.
                version.deletion_time = config.deletion_time(now, meta)
            await store.commit([store.put_metadata(meta)])
        return None

    async def destroy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        numbers = version_numbers(data.raw.get("versions"))
        if not numbers:
            raise BadRequest("no version number provided")
        key = data.get("path")
        store = self.context.store(storage)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is None:
                return None
            for number in numbers:
                version = meta.versions.get(number)
                if version is not None:
                    version.destroyed = True
            await store.commit([store.put_metadata(meta), *store.delete_versions(key, list(dict.fromkeys(numbers)))])
        return None
