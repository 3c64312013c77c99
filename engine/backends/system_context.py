"""What the system backend's sections may use: the core's services, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.audit.broker import AuditBroker
    from engine.expiration import ExpirationManager
    from engine.mounts import MountManager
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
