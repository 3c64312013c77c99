"""sys/leases: look up, list, renew, revoke (one, by prefix, forced), tidy and count leases, and Vault's
older aliases sys/renew, sys/revoke, sys/revoke-prefix and sys/revoke-force. Listing and the prefix
revocations are root-protected (sudo), as system.ROOT_PATHS says."""

from __future__ import annotations

from engine.backends.system_context import SystemContext
from engine.errors import BadRequest, EngineError
from engine.expiration import ExpirationManager
from engine.expiration.manager import MAX_IRREVOCABLE_LISTED
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_LEASE_ID = {"lease_id": Field(FieldType.STRING, description="The lease to act on.")}
_URL_LEASE_ID = {"url_lease_id": Field(FieldType.STRING, description="The lease, given in the URL.")}
# Vault's default: revoke before answering; sync=false queues the revocation and answers 202.
_SYNC = {"sync": Field(FieldType.BOOL, default=True, description="Revoke before answering.")}
_TYPE = {
    "type": Field(FieldType.STRING, description='"irrevocable" (as Vault), or "all".'),
    "include_child_namespaces": Field(FieldType.BOOL, description="Accepted for Vault compatibility."),
}

TIDY_STARTED = (
    "Tidy operation successfully started. Any information from the operation will be printed to Vault's "
    "server logs."
)


class LeasesSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    @property
    def expiration(self) -> ExpirationManager:
        manager = self.context.expiration
        if manager is None:
            raise EngineError("the expiration manager is not running")
        return manager

    def paths(self) -> list[Path]:
        return [
            Path(
                "leases/lookup",
                fields=_LEASE_ID,
                operations={Op.UPDATE: self.lookup},
                synopsis="Retrieve lease metadata.",
            ),
            Path(
                r"leases/lookup/(?P<prefix>.*)",
                operations={Op.LIST: self.list},
                synopsis="List the lease ids below a prefix (sudo).",
            ),
            Path(
                r"(?:leases/)?renew(?:/(?P<url_lease_id>.+))?",
                fields={**_LEASE_ID, **_URL_LEASE_ID, "increment": Field(FieldType.DURATION)},
                operations={Op.UPDATE: self.renew},
                synopsis="Renew a lease, asking to extend it by `increment` seconds.",
            ),
            Path(
                r"(?:leases/)?revoke(?:/(?P<url_lease_id>.+))?",
                fields={**_LEASE_ID, **_URL_LEASE_ID, **_SYNC},
                operations={Op.UPDATE: self.revoke},
                synopsis="Revoke a lease.",
            ),
            Path(
                r"(?:leases/)?revoke-prefix/(?P<prefix>.+)",
                fields=_SYNC,
                operations={Op.UPDATE: self.revoke_prefix},
                synopsis="Revoke every lease below a prefix (sudo).",
            ),
            Path(
                r"(?:leases/)?revoke-force/(?P<prefix>.+)",
                operations={Op.UPDATE: self.revoke_force},
                synopsis="Delete every lease below a prefix even where the backend fails to revoke (sudo).",
                description="For recovery only: the secrets whose revocation failed may outlive their leases.",
            ),
            Path("leases/tidy", operations={Op.UPDATE: self.tidy}, synopsis="Revoke leases of dead tokens."),
            Path(
                "leases/count",
                fields=_TYPE,
                operations={Op.READ: self.count},
                synopsis="Count leases of a type, per mount.",
            ),
            Path(
                "leases",
                fields={**_TYPE, "limit": Field(FieldType.STRING)},
                operations={Op.READ: self.irrevocable},
                synopsis="List the irrevocable leases.",
            ),
        ]

    async def lookup(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=await self.expiration.lookup(_lease_id(data)))

    async def list(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        keys = await self.expiration.list(data.get("prefix"))
        return Response(data={"keys": keys} if keys else {})

    async def renew(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self.expiration.renew(_lease_id(data), data.get("increment"))

    async def revoke(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        sync = data.get("sync")
        await self.expiration.revoke(_lease_id(data), sync=sync)
        return None if sync else Response(status=202)

    async def revoke_prefix(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        sync = data.get("sync")
        await self.expiration.revoke_prefix(data.get("prefix"), sync=sync)
        return None if sync else Response(status=202)

    async def revoke_force(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.expiration.revoke_prefix(data.get("prefix"), force=True)
        return None

    async def tidy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        # Vault tidies in the background and answers 202 at once; here the work is done by the time
        # the 202 goes out (no task outlives the request), and its counts are logged as in Vault.
        await self.expiration.tidy()
        return Response(warnings=[TIDY_STARTED], status=202)

    async def count(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        counts = self.expiration.count(data.get("type"))
        return None if counts is None else Response(data=counts)

    async def irrevocable(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        if data.get("type").lower() != "irrevocable":
            return None
        leases, warnings = await self.expiration.irrevocable(_limit(data.get("limit")))
        return Response(data=leases, warnings=warnings)


def _lease_id(data: FieldData) -> str:
    """The body's lease_id wins over the one in the URL, as in Vault."""
    lease_id: str = data.get("lease_id")
    if not lease_id and "url_lease_id" in data.schema:
        lease_id = data.get("url_lease_id")
    if not lease_id:
        raise BadRequest("lease_id must be specified")
    return lease_id


def _limit(raw: str) -> int | None:
    """Vault's processLimit: empty means 10,000, "none" means all, otherwise a positive integer."""
    if raw == "":
        return MAX_IRREVOCABLE_LISTED
    if raw.lower() == "none":
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f"invalid 'limit' provided: {raw!r}") from None
    if limit < 1:
        raise BadRequest("limit must be 'none' or a positive integer")
    return limit
