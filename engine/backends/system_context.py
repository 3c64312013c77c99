"""What the system backend's sections may use: the core's services, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.audit.broker import AuditBroker
    from engine.expiration import ExpirationManager
    from engine.mounts import MountManager
    from engine.policy.acl import ACL
    from engine.quotas import QuotaManager
    from engine.request import Request
    from engine.tokens import TokenStore


class KeyStatus(Protocol):
    @property
    def term(self) -> int: ...

    @property
    def install_time(self) -> datetime: ...


class BarrierKeys(Protocol):
    """What sys/rotate and sys/key-status need from the barrier."""

    async def rotate(self) -> object: ...

    def key_status(self) -> KeyStatus: ...


@dataclass
class SystemContext:
    mounts: MountManager
    keys: BarrierKeys
    tokens: TokenStore
    # Filled in as the services exist: the policy store and the expiration manager.
    policies: Any = None
    expiration: ExpirationManager | None = None
    audit: AuditBroker | None = None
    quotas: QuotaManager | None = None

    async def caller_acl(self, req: Request) -> ACL | None:
        """The ACL of the request's token on a path that needs none (the core still looked the token up):
        None without a token, so such endpoints show only what any caller may see."""
        entry = req.token_entry
        if entry is None or self.policies is None:
            return None
        acl: ACL = await self.policies.acl_for(entry.policies)
        return acl
