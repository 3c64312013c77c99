"""sys/metrics: the token and ACL check (a read of sys/metrics, as in Vault) and the audit line for a
metrics scrape. The metrics themselves describe the whole daemon (HTTP edge, seal, HSM), so the daemon
renders them once this path has let the request through; the engine's answer carries only the format."""

from __future__ import annotations

from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

FORMATS = ("", "prometheus")


class MetricsSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        return [
            Path(
                "metrics",
                fields={"format": Field(FieldType.STRING, description='"prometheus" (the only format served).')},
                operations={Op.READ: self.read},
                synopsis="The daemon's metrics in Prometheus' text format.",
            )
        ]

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        fmt = data.get("format").lower()
        if fmt not in FORMATS:
            raise BadRequest(f'metrics format "{fmt}" is not served here: use format=prometheus (or leave it out)')
        return Response(data={"format": "prometheus"})
