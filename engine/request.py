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
    mount_accessor: str = ""
    # The caller's token entry (engine.tokens.TokenEntry), set by the core once the token is checked;
    # None on unauthenticated paths (logins). Handlers such as lookup-self and capabilities-self use it.
    token_entry: Any = field(default=None, repr=False)
    # Vault's X-Vault-Wrap-TTL header, in seconds (0: not asked for).
    wrap_ttl: int = 0


@dataclass
class Auth:
    """What an auth method (or token creation) returns before the core makes a token of it: Vault's
    logical.Auth. The core creates the token, registers its lease and renders the `auth` block."""

    policies: list[str] = field(default_factory=list)
    display_name: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    ttl: int = 0                    # seconds; 0 means the mount's / system default
    max_ttl: int = 0                # cap for renewals; 0 means the mount's / system max
    explicit_max_ttl: int = 0
    period: int = 0                 # periodic token: each renewal resets the TTL to this
    num_uses: int = 0
    renewable: bool = True
    token_type: str = "default"     # "service", "batch" or "default" (the mount's choice)
    no_default_policy: bool = False
    bound_cidrs: list[str] = field(default_factory=list)
    # Kept with the token's lease for the auth method's renew check (e.g. the user still exists).
    internal_data: dict[str, Any] = field(default_factory=dict)
    # An auth method that gives out tokens for a login marks its alias (user name, role id).
    alias_name: str = ""


@dataclass
class Secret:
    """A leased secret in a response (Vault's logical.Secret): the core registers a lease for it."""

    ttl: int = 0                    # seconds; 0 means the mount's default lease TTL
    max_ttl: int = 0
    renewable: bool = True
    # What the backend needs later to renew or revoke it (e.g. the database user name). Stored
    # behind the barrier with the lease, never returned to clients.
    internal_data: dict[str, Any] = field(default_factory=dict, repr=False)


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
    # Set by a backend; the core turns them into a lease (secret) or a token (login) and fills in
    # lease_id / lease_duration / renewable / auth above.
    secret: Secret | None = None
    login: Auth | None = None

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
