"""sys/quotas/rate-limit/:name, LIST sys/quotas/rate-limit and sys/quotas/config: Vault's rate limit
quotas, with its request and response shapes. The limiter itself is engine/quotas.py; the daemon
enforces it before a request reaches the core."""

from __future__ import annotations

import math

from engine.backends.system_context import SystemContext
from engine.errors import BadRequest, EngineError
from engine.framework import Field, FieldData, FieldType, Path
from engine.quotas import QUOTA_TYPE, QuotaConfig, QuotaManager, RateLimitQuota
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_RULE_FIELDS = {
    "name": Field(FieldType.STRING, description="The name of the quota."),
    "path": Field(FieldType.STRING, description='A mount ("secret/"), a path below one, or "" for every path.'),
    # A float in Vault; read weakly as text and parsed here, so "10" and 10.5 both work.
    "rate": Field(FieldType.STRING, description="Requests allowed per interval for each client; positive."),
    "interval": Field(FieldType.DURATION, description='The interval the rate counts over (default "1s").'),
    "block_interval": Field(FieldType.DURATION, description="How long a client over the rate is refused."),
    "role": Field(FieldType.STRING, description="Login role the quota is for (not supported here)."),
    "inheritable": Field(FieldType.BOOL, description="Namespaces only; accepted for Vault compatibility."),
    "type": Field(FieldType.STRING, description='"rate-limit" (what hvac sends), the only type served.'),
}
_CONFIG_FIELDS = {
    "rate_limit_exempt_paths": Field(FieldType.LIST, description="Paths no rate limit quota applies to."),
    "enable_rate_limit_audit_logging": Field(FieldType.BOOL, description="Accepted; refusals are not audited."),
    "enable_rate_limit_response_headers": Field(
        FieldType.BOOL, description="Add X-Ratelimit-* headers to responses under a quota."
    ),
}


class QuotasSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    @property
    def quotas(self) -> QuotaManager:
        manager = self.context.quotas
        if manager is None:
            raise EngineError("the quota manager is not running")
        return manager

    def paths(self) -> list[Path]:
        return [
            Path(
                "quotas/config",
                fields=_CONFIG_FIELDS,
                operations={Op.READ: self.read_config, Op.UPDATE: self.write_config},
                synopsis="Configure rate limit quotas: exempt paths and response headers.",
            ),
            Path(
                "quotas/rate-limit/?",
                operations={Op.LIST: self.list},
                synopsis="List the rate limit quotas.",
            ),
            Path(
                r"quotas/rate-limit/(?P<name>[^/]+)",
                fields=_RULE_FIELDS,
                operations={Op.READ: self.read, Op.UPDATE: self.write, Op.CREATE: self.write, Op.DELETE: self.delete},
                existence_check=self.exists,
                synopsis="Create, read, update or delete a rate limit quota.",
            ),
        ]

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return self.quotas.get(data.get("name")) is not None

    async def read_config(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=self.quotas.config.describe())

    async def write_config(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        current = self.quotas.config
        exempt, given = data.get_ok("rate_limit_exempt_paths")
        headers, headers_given = data.get_ok("enable_rate_limit_response_headers")
        audit, audit_given = data.get_ok("enable_rate_limit_audit_logging")
        await self.quotas.set_config(
            QuotaConfig(
                rate_limit_exempt_paths=tuple(p.lstrip("/") for p in exempt) if given
                else current.rate_limit_exempt_paths,
                enable_rate_limit_audit_logging=audit if audit_given else current.enable_rate_limit_audit_logging,
                enable_rate_limit_response_headers=headers if headers_given
                else current.enable_rate_limit_response_headers,
            )
        )
        return None

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        names = self.quotas.names()
        return Response(data={"keys": names} if names else {})

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        quota = self.quotas.get(data.get("name"))
        return None if quota is None else Response(data=quota.describe())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        if data.get("type") not in ("", QUOTA_TYPE):
            raise BadRequest(f'quota type "{data.get("type")}" is not served here: only "{QUOTA_TYPE}"')
        if data.get("role"):
            raise BadRequest("role-based rate limit quotas are not supported: leave 'role' empty")
        await self.quotas.put(
            RateLimitQuota(
                name=data.get("name"),
                path=data.get("path"),
                rate=_rate(data.get("rate")),
                interval=data.get("interval"),
                block_interval=data.get("block_interval"),
            )
        )
        return None

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.quotas.delete(data.get("name"))
        return None


def _rate(raw: str) -> float:
    try:
        rate = float(raw) if raw.strip() else 0.0
    except ValueError:
        raise BadRequest(f"'rate' is invalid: {raw!r} is not a number") from None
    if not math.isfinite(rate) or rate <= 0:
        raise BadRequest("'rate' is invalid: it must be a positive number of requests per interval")
    return rate
