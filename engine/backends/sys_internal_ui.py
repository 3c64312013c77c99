"""sys/internal/ui/mounts and sys/internal/ui/mounts/:path: what a token may learn about the mounts it can
use (Vault's pathInternalUIMountsRead/MountRead). Clients ask this before a KV call to tell version 1
from version 2 (the Vault CLI's `kv` commands, hvac), with tokens that cannot read sys/mounts.

Unauthenticated as in Vault, so the handlers check the token's policies themselves: with none, the listing is
empty and a single mount is refused; a mount is shown only when the token's policies grant something on
it or below it (Vault's hasMountAccess)."""

from __future__ import annotations

from typing import Any

from engine.backends.sys_mounts import mount_info
from engine.backends.system_context import SystemContext
from engine.errors import PermissionDenied
from engine.framework import FieldData, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_NO_ACCESS = "preflight capability check returned 403, please ensure client's policies grant access to path"


class InternalUiSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        return [
            Path(r"internal/ui/mounts", operations={Op.READ: self.list_mounts},
                 synopsis="The mounts the calling token can use."),
            Path(r"internal/ui/mounts/(?P<path>.+)", operations={Op.READ: self.read_mount},
                 synopsis="One mount the calling token can use, found from any path inside it."),
        ]

    async def list_mounts(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        acl = await self.context.caller_acl(req)
        secret: dict[str, Any] = {}
        auth: dict[str, Any] = {}
        for route in self.context.mounts.router.routes():
            entry = route.entry
            if acl is None or not acl.has_mount_access(entry.path):
                continue
            (auth if entry.is_auth else secret)[entry.path.removeprefix("auth/") if entry.is_auth else entry.path] = (
                mount_info(entry)
            )
        return Response(data={"secret": secret, "auth": auth})

    async def read_mount(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        acl = await self.context.caller_acl(req)
        if acl is None:
            raise PermissionDenied()
        path = data.get("path").lstrip("/")
        found = self.context.mounts.router.match(path)
        if found is None or not acl.has_mount_access(found[0].entry.path):
            raise PermissionDenied(_NO_ACCESS)
        entry = found[0].entry
        return Response(data={**mount_info(entry), "path": entry.path.removeprefix("auth/")})
