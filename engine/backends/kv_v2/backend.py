"""KV version 2 (Vault's versioned kv backend): every write keeps a new version of a key, up to
max_versions; versions can be soft-deleted, undeleted and destroyed; per-key metadata and mount-wide
config carry the check-and-set and deletion rules.

Paths: config, data/<path>, metadata/<path>, delete/<path>, undelete/<path>, destroy/<path>,
subkeys/<path>. Anything else answers 404 with Vault's hint about the v2 API, and a v1 mount upgraded
to v2 has its entries migrated before the first request is served (upgrade.py)."""

from __future__ import annotations

from dataclasses import replace

from engine.backends.kv_v2.config_paths import ConfigSection
from engine.backends.kv_v2.context import KvContext
from engine.backends.kv_v2.data_paths import NOT_FOUND, DataSection
from engine.backends.kv_v2.metadata_paths import MetadataSection
from engine.backends.kv_v2.upgrade import Upgrade
from engine.backends.kv_v2.version_paths import VersionsSection
from engine.errors import NotFound
from engine.framework import Backend, FieldData, Path
from engine.mounts import MountEntry
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens.entry import Clock, utc_now

_ROOTS = ("metadata", "data", "delete", "undelete", "destroy")
_CLI_VERBS = {Op.CREATE: "put", Op.UPDATE: "put", Op.PATCH: "patch", Op.READ: "get", Op.LIST: "list",
              Op.DELETE: "delete"}  # fmt: skip


async def _invalid_path(req: Request, data: FieldData, storage: Storage) -> Response | None:
    """Vault's pathInvalid: a 404 that says how the v2 API differs from v1."""
    if req.path in _ROOTS:
        warning = "Non-listing operations on the root of a K/V v2 mount are not supported."
    else:
        warning = (
            "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints "
            f"to use. If using the Vault CLI, use 'vault kv {_CLI_VERBS[req.op]}' for this operation."
        )
    return Response(warnings=[warning], status=NOT_FOUND)


_INVALID = Path(
    r".*",
    operations={op: _invalid_path for op in (Op.UPDATE, Op.PATCH, Op.READ, Op.DELETE, Op.LIST)},
    takes_arbitrary_input=True,
    synopsis="Any path a versioned K/V mount does not serve.",
)


class KvV2Backend(Backend):
    def __init__(self, mount: MountEntry, clock: Clock = utc_now) -> None:
        self.mount = mount
        # The mount's UUID as the records' prefix, as Vault does (see store.py).
        context = KvContext(prefix=f"{mount.uuid}/", clock=clock)
        self.context = context
        self._upgrade = Upgrade(context.prefix, clock)
        self.paths = [
            *ConfigSection(context).paths(),
            *DataSection(context).paths(),
            *MetadataSection(context).paths(),
            *VersionsSection(context).paths(),
        ]

    def _route(self, path: str) -> tuple[Path, dict[str, str]]:
        # The catch-all cannot be one more pattern: patterns must not overlap.
        try:
            return super()._route(path)
        except NotFound:
            return _INVALID, {}

    @staticmethod
    def _as_listed(req: Request) -> Request:
        # Vault's HTTP layer gives every LIST a trailing slash: "metadata" lists the root, like "metadata/".
        if req.op is Op.LIST and not req.path.endswith("/"):
            return replace(req, path=req.path + "/")
        return req

    async def existence(self, req: Request, storage: Storage) -> bool | None:
        await self._upgrade.ensure(storage)
        return await super().existence(req, storage)

    async def handle(self, req: Request, storage: Storage) -> Response | None:
        await self._upgrade.ensure(storage)
        return await super().handle(self._as_listed(req), storage)


def kv_v2_factory(mount: MountEntry, clock: Clock = utc_now) -> Backend:
    return KvV2Backend(mount, clock)
