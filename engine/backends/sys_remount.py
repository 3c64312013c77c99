"""sys/remount (Vault's mount migration): move a secret engine or an auth method to a new path. The
mount keeps its UUID, so its data stays where it is; the leases and tokens issued under the old path
are revoked, as Vault documents. Vault 1.13+ answers with a migration ID that sys/remount/status/<id>
reports on; here the move is done before the answer, so the status is always "success"."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from engine.backends.sys_mounts import revoke_leases
from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.mounts import sanitize_mount_path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

QUEUED_WARNING = (
    "Mount move has been queued. Progress will be reported in Vault's server log, tagged with the returned migration_id"
)
# Vault forgets migration statuses after a while; keep the latest ones only.
MAX_MIGRATIONS = 1000


class RemountSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context
        self._migrations: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def paths(self) -> list[Path]:
        return [
            Path(
                "remount",
                fields={
                    "from": Field(FieldType.STRING, description="The current mount point."),
                    "to": Field(FieldType.STRING, description="The new mount point."),
                },
                operations={Op.UPDATE: self.remount},
                synopsis="Move a mounted backend to a new mount point.",
            ),
            Path(
                r"remount/status/(?P<migration_id>.+)",
                operations={Op.READ: self.status},
                synopsis="The status of a mount migration.",
            ),
        ]

    async def remount(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        source, target = data.get("from"), data.get("to")
        if not source or not target:
            raise BadRequest("both 'from' and 'to' path must be specified as a string")
        if source != source.strip():
            raise BadRequest("'from' path cannot contain trailing whitespace")
        if target != target.strip():
            raise BadRequest("'to' path cannot contain trailing whitespace")
        await self.context.mounts.remount(source, target, before=revoke_leases(self.context))
        migration_id = str(uuid.uuid4())
        self._migrations[migration_id] = {
            "source_mount": sanitize_mount_path(source),
            "target_mount": sanitize_mount_path(target),
            "status": "success",
        }
        while len(self._migrations) > MAX_MIGRATIONS:
            self._migrations.popitem(last=False)
        return Response(data={"migration_id": migration_id}, warnings=[QUEUED_WARNING])

    async def status(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        migration_id = data.get("migration_id")
        info = self._migrations.get(migration_id)
        if info is None:
            return None
        return Response(data={"migration_id": migration_id, "migration_info": dict(info)})
