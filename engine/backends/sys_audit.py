"""sys/audit, sys/audit-hash and sys/audit/<path>/verification-key: the audit devices, with Vault's
request and response shapes (the verification key is Sealer's own, for `sealer audit verify`)."""

from __future__ import annotations

import base64

from engine.audit.broker import AuditBroker
from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_KEY_SUFFIX = "/verification-key"


class AuditSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    @property
    def broker(self) -> AuditBroker:
        broker = self.context.audit
        if broker is None:
            raise RuntimeError("the audit broker is not wired into the system backend")
        return broker

    def paths(self) -> list[Path]:
        return [
            Path("audit/?", operations={Op.READ: self.list}, synopsis="List the enabled audit devices."),
            Path(
                # Not a path ending in /verification-key: that one is below.
                rf"audit/(?P<path>(?!.*{_KEY_SUFFIX}$).+)",
                fields={
                    "type": Field(FieldType.STRING, description="The type of the audit device."),
                    "description": Field(FieldType.STRING, description="User-friendly description."),
                    "options": Field(FieldType.KV_PAIRS, description="Configuration options of the device."),
                    "local": Field(FieldType.BOOL, description="Local to this node (no replication here)."),
                },
                operations={Op.UPDATE: self.enable, Op.DELETE: self.disable},
                synopsis="Enable or disable an audit device.",
            ),
            Path(
                rf"audit/(?P<path>.+){_KEY_SUFFIX}",
                operations={Op.READ: self.verification_key},
                synopsis="The key that verifies the device's chained MACs (for `sealer audit verify`).",
            ),
            Path(
                "audit-hash/(?P<path>.+)",
                fields={"input": Field(FieldType.STRING, description="The value to hash.")},
                operations={Op.UPDATE: self.hash},
                synopsis="The hash of a value as the given audit device would log it.",
            ),
        ]

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=self.broker.listing())

    async def enable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        type_ = data.get("type")
        if not type_:
            raise BadRequest("missing audit type")
        options = {str(k): str(v) for k, v in (data.get("options") or {}).items()}
        await self.broker.enable(
            data.get("path"), type_, description=data.get("description"), options=options, local=data.get("local")
        )
        return None

    async def disable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.broker.disable(data.get("path"))
        return None

    async def verification_key(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        entry = self.broker.entry(data.get("path"))
        if entry is None:
            return None
        return Response(
            data={"key": base64.b64encode(entry.chain_key).decode(), "path": entry.path, "type": entry.type}
        )

    async def hash(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        value = data.get("input")
        if not value:
            raise BadRequest('the "input" parameter is empty')
        hashed = self.broker.hash(data.get("path"), value)
        if hashed is None:
            raise BadRequest(f"unknown audit backend {data.get('path')}")
        return Response(data={"hash": hashed})
