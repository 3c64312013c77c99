"""Where a KV v2 mount keeps its records in the mount's storage view.

Everything lives below a prefix of its own, the mount's UUID, as Vault does: a KV v1 mount upgraded to
v2 keeps its old entries at the root of the same view until they are migrated, and no user path can
collide with the v2 records meanwhile.

    <uuid>/config                     the mount's settings
    <uuid>/upgrading                  the v1 -> v2 migration marker
    <uuid>/metadata/<path>            one key's metadata (listed by metadata/ LIST)
    <uuid>/versions/<h[:3]>/<h[3:]>   one version's data, h = sha256("<path>|<version>")

A version's data and its key's metadata change together in one storage batch, so a crash never leaves
metadata naming data that is not there (or the other way round).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from engine.backends.kv_v2.metadata_memo import MetadataMemo
from engine.backends.kv_v2.records import KeyMetadata, KvConfig
from engine.errors import EngineError
from engine.json_bytes import compact_json
from engine.storage.base import BatchOp, Delete, Put, Storage


# Pure, and worked out on every read: hot keys hash once.
@functools.lru_cache(maxsize=4096)
def _version_suffix(path: str, version: int) -> str:
    # Hashed, as Vault salts it: version numbers never mix with a path's own segments.
    digest = hashlib.sha256(f"{path}|{version}".encode()).hexdigest()
    return f"versions/{digest[:3]}/{digest[3:]}"


def encode_record(value: dict[str, Any]) -> bytes:
    """A record as stored: compact JSON, datetimes as isoformat() writes them (a key's metadata, a time or
    two per kept version, is encoded on every write to it: with the standard library and isoformat() that
    was a sixth of a write)."""
    return compact_json(value)


class KvStore:
    def __init__(self, storage: Storage, prefix: str, memo: MetadataMemo | None = None) -> None:
        self.storage = storage
        self.prefix = prefix
        # Shared by the mount's requests; a store of its own when none is given.
        self._memo = MetadataMemo() if memo is None else memo

    # --- keys ----------------------------------------------------------------------------------------

    @property
    def config_key(self) -> str:
        return self.prefix + "config"

    @property
    def upgrade_key(self) -> str:
        return self.prefix + "upgrading"

    def metadata_key(self, path: str) -> str:
        return f"{self.prefix}metadata/{path}"

    def version_key(self, path: str, version: int) -> str:
        return self.prefix + _version_suffix(path, version)

    # --- reads ---------------------------------------------------------------------------------------

    async def config(self) -> KvConfig:
        raw = await self.storage.get(self.config_key)
        return KvConfig() if raw is None else KvConfig.from_json(json.loads(raw))

    async def has_metadata(self, path: str) -> bool:
        """Whether the key exists (the existence check every write makes): nothing to parse."""
        return await self.storage.get(self.metadata_key(path)) is not None

    async def metadata(self, path: str) -> KeyMetadata | None:
        """The key's metadata, for this caller alone to change (a copy of the shared parse)."""
        shared = await self.metadata_for_reading(path)
        return None if shared is None else shared.copy()

    async def metadata_for_reading(self, path: str) -> KeyMetadata | None:
        """The key's metadata as stored right now, possibly shared with other readers: never change it
        (see metadata_memo.py)."""
        key = self.metadata_key(path)
        raw = await self.storage.get(key)
        if raw is None:
            self._memo.forget(key)
            return None
        return self._memo.shared(key, raw)

    async def version_data(self, path: str, version: int) -> dict[str, Any]:
        raw = await self.storage.get(self.version_key(path, version))
        if raw is None:
            raise EngineError("could not find version data")  # metadata says it exists: Vault's 500
        data: dict[str, Any] = json.loads(raw)["data"]
        return data

    async def list_metadata(self, prefix: str) -> list[str]:
        return await self.storage.list(self.metadata_key(prefix))

    # --- writes --------------------------------------------------------------------------------------

    async def put_config(self, config: KvConfig) -> None:
        await self.storage.put(self.config_key, encode_record(config.to_json()))

    def put_metadata(self, meta: KeyMetadata) -> Put:
        return Put(self.metadata_key(meta.key), encode_record(meta.to_json()))

    def remember_written(self, put: Put, meta: KeyMetadata) -> None:
        """`put` (from put_metadata(meta)) is committed: the next read of these bytes, such as the next
        write's, reuses `meta`, which the caller must no longer change."""
        self._memo.remember(put.key, put.value, meta)

    def put_version(self, path: str, version: int, data: dict[str, Any]) -> Put:
        return Put(self.version_key(path, version), encode_record({"data": data}))

    def delete_versions(self, path: str, versions: Sequence[int]) -> list[BatchOp]:
        return [Delete(self.version_key(path, number)) for number in versions]

    def delete_metadata(self, path: str) -> Delete:
        return Delete(self.metadata_key(path))

    async def commit(self, ops: Sequence[BatchOp]) -> None:
        await self.storage.batch(ops)
