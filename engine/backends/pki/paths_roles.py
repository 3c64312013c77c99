"""roles/ (list) and roles/:name (read, write, delete)."""

from __future__ import annotations

from engine.backends.pki.roles import PREFIX, ROLE_FIELDS, load_role, role_from_fields, save_role
from engine.framework import FieldData, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

ROLE_NAME = r"(?P<name>\w(?:[\w\-.]*\w)?)"


class RolePaths:
    def paths(self) -> list[Path]:
        return [
            Path(r"roles/?", operations={Op.LIST: self.list}, synopsis="List the existing roles in this backend"),
            Path(
                rf"roles/{ROLE_NAME}",
                operations={Op.READ: self.read, Op.UPDATE: self.write, Op.DELETE: self.delete},
                fields=ROLE_FIELDS,
                synopsis="Manage the roles that can be created with this backend.",
            ),
        ]

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        names = await storage.list(PREFIX)
        return Response(data={"keys": names} if names else {})

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = await load_role(storage, data.get("name"))
        return None if role is None else Response(data=role.to_json())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        role = role_from_fields(data)
        await save_role(storage, data.get("name"), role)
        return Response(data=role.to_json())

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await storage.delete(PREFIX + data.get("name"))
        return None
