"""delete/<path>, undelete/<path> and destroy/<path>: change chosen versions of a key. Versions that
do not exist (never written, or pruned) are skipped, as are destroyed ones; a key that does not exist
is not an error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.backends.kv_v2.context import KvContext
from engine.backends.kv_v2.inputs import version_numbers
from engine.backends.kv_v2.records import KeyMetadata
from engine.backends.kv_v2.store import KvStore
from engine.errors import BadRequest
from engine.framework import FieldData, Path
from engine.request import Op, Request, Response
from engine.storage.base import BatchOp, Storage

# Changes a key's versions in place; returns the storage operations to commit besides its metadata.
_Change = Callable[[KvStore, KeyMetadata, list[int]], Awaitable[list[BatchOp]]]


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

    async def _change(self, data: FieldData, storage: Storage, missing: str, change: _Change) -> None:
        """The steps every version change shares: the version numbers (missing is the error when there
        are none), then the change, under the key's lock, of a key that exists."""
        numbers = version_numbers(data.raw.get("versions"))
        if not numbers:
            raise BadRequest(missing)
        key = data.get("path")
        store = self.context.store(storage)
        async with self.context.locks(key):
            meta = await store.metadata(key)
            if meta is not None:
                # The change comes first: put_metadata encodes meta as it is when called.
                others = await change(store, meta, numbers)
                await store.commit([store.put_metadata(meta), *others])

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        async def mark_deleted(store: KvStore, meta: KeyMetadata, numbers: list[int]) -> list[BatchOp]:
            now = self.context.now()
            for number in numbers:
                version = meta.versions.get(number)
                if version is None or version.unreadable(now):
                    continue
                version.deletion_time = now
            return []

        await self._change(data, storage, "No version number provided", mark_deleted)
        return None

    async def undelete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        async def restore(store: KvStore, meta: KeyMetadata, numbers: list[int]) -> list[BatchOp]:
            config = await store.config()
            now = self.context.now()
            for number in numbers:
                version = meta.versions.get(number)
                if version is None or version.destroyed:
                    continue
                # An undeleted version starts a fresh delete_version_after period, as in Vault.
                version.deletion_time = config.deletion_time(now, meta)
            return []

        await self._change(data, storage, "No version number provided", restore)
        return None

    async def destroy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        async def destroy_versions(store: KvStore, meta: KeyMetadata, numbers: list[int]) -> list[BatchOp]:
            for number in numbers:
                version = meta.versions.get(number)
                if version is not None:
                    version.destroyed = True
            return store.delete_versions(data.get("path"), list(dict.fromkeys(numbers)))

        await self._change(data, storage, "no version number provided", destroy_versions)
        return None
