"""What a request and a response are, once HTTP has been left at the edge."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any


class Op(enum.StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    LIST = "list"


@dataclass
class Request:
    op: Op
    path: str                                   # without the leading "v1/", e.g. "secret/app"
    data: dict[str, Any] = field(default_factory=dict)
    client_token: str | None = field(default=None, repr=False)
    remote_address: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Filled in by the engine while the request travels: the mount it was routed to and the
    # path below that mount.
    mount_point: str = ""
    mount_type: str = ""


@dataclass
class Response:
    data: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    auth: dict[str, Any] | None = None
    lease_id: str = ""
    lease_duration: int = 0
    renewable: bool = False
    # 204 when a write returns nothing, as Vault does.
    status: int | None = None

    def envelope(self, request_id: str, mount_type: str = "") -> dict[str, Any]:
        """Vault's response body."""
        return {
            "request_id": request_id,
            "lease_id": self.lease_id,
            "renewable": self.renewable,
            "lease_duration": self.lease_duration,
            "data": self.data,
            "wrap_info": None,
            "warnings": self.warnings or None,
            "auth": self.auth,
            "mount_type": mount_type,
        }
