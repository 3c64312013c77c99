"""config: the mount-wide settings every key falls back to."""

from __future__ import annotations

from engine.backends.kv_v2.context import KvContext
from engine.backends.kv_v2.inputs import signed_duration
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_FIELDS = {
    "max_versions": Field(FieldType.INT, description="Versions to keep per key; 10 when 0."),
    "cas_required": Field(FieldType.BOOL, description="Whether every write needs a cas."),
    # Read as a string and parsed here: unlike other durations it may be negative (disabled).
    "delete_version_after": Field(
        FieldType.STRING,
        description="How long until a new version reads as deleted; 0 clears it, a negative value disables it "
        "on every key.",
    ),
}


class ConfigSection:
    def __init__(self, context: KvContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        return [
            Path(
                "config",
                fields=_FIELDS,
                operations={Op.READ: self.read, Op.UPDATE: self.write},
                synopsis="Configures settings for the KV store",
            )
        ]

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=(await self.context.store(storage).config()).view())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        max_versions, max_given = data.get_ok("max_versions")
        cas_required, cas_given = data.get_ok("cas_required")
        raw_delete_after = data.raw.get("delete_version_after")
        delete_after_given = raw_delete_after is not None
        if not (max_given or cas_given or delete_after_given):
            return None
        if max_given and max_versions < 0:
            raise BadRequest("max_versions cannot be negative")
        store = self.context.store(storage)
        config = await store.config()
        if max_given:
            config.max_versions = max_versions
        if cas_given:
            config.cas_required = cas_required
        if delete_after_given:
            # Negative: disabled (kept as -1, Vault's marker); 0: cleared.
            seconds = signed_duration("delete_version_after", raw_delete_after)
            config.delete_version_after = -1 if seconds < 0 else seconds
        await store.put_config(config)
        return None
