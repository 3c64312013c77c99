"""sys/rotate and sys/key-status: the barrier's keyring."""

from __future__ import annotations

from engine.backends.system_context import SystemContext
from engine.framework import FieldData, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import rfc3339


class KeysSection:
    def __init__(self, context: SystemContext) -> None:
        self.keys = context.keys

    def paths(self) -> list[Path]:
        return [
            Path("rotate", operations={Op.UPDATE: self.rotate}, synopsis="Rotate the barrier key."),
            Path("key-status", operations={Op.READ: self.key_status}, synopsis="The active key term."),
        ]

    async def rotate(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.keys.rotate()
        return None

    async def key_status(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        status = self.keys.key_status()
        return Response(data={"term": status.term, "install_time": rfc3339(status.install_time)})
