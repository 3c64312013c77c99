"""What a request and a response are, once HTTP has been left at the edge."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any


class Op(enum.StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    LIST = "list"


# Random bytes for request ids, drawn from the OS 4 KiB at a time: os.urandom per request was a system call
# that also lets go of the GIL, and each time a worker thread waiting for it (pkcs11) took it right there
# (HSM transit 1,379 -> 1,470 requests/s, KV v2 read 3,330 -> 3,498 in paired runs). The ids are public
# (every response carries its own), so holding their randomness in memory costs nothing.
_ID_POOL_BYTES = 4096
_id_pool = memoryview(b"")


def _empty_id_pool() -> None:
    global _id_pool
    _id_pool = memoryview(b"")


os.register_at_fork(after_in_child=_empty_id_pool)  # a forked child must not repeat its parent's ids


def new_request_id() -> str:
    """A random (version 4) UUID, as Vault's request ids: what str(uuid.uuid4()) gives, without its
    pure-Python UUID object (a measurable share of a cached read)."""
    global _id_pool
    if len(_id_pool) < 16:
        _id_pool = memoryview(os.urandom(_ID_POOL_BYTES))
    raw = bytearray(_id_pool[:16])
    _id_pool = _id_pool[16:]
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class Request:
    op: Op
    path: str                                   # without the leading "v1/", e.g. "secret/app"
    data: dict[str, Any] = field(default_factory=dict)
    client_token: str | None = field(default=None, repr=False)
    remote_address: str = ""
    id: str = field(default_factory=new_request_id)
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
class WrapInfo:
    """Vault's wrap_info: what a wrapped response carries instead of its content. The token is the
    single-use key to the content, so it stays out of reprs."""

    token: str = field(repr=False)
    accessor: str
    ttl: int                        # seconds
    creation_time: str              # RFC 3339
    creation_path: str
    # The accessor of the token inside, when a login or token creation was wrapped.
    wrapped_accessor: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "token": self.token,
            "accessor": self.accessor,
            "ttl": self.ttl,
            "creation_time": self.creation_time,
            "creation_path": self.creation_path,
        }
        if self.wrapped_accessor:  # Vault's omitempty
            body["wrapped_accessor"] = self.wrapped_accessor
        return body


@dataclass(frozen=True)
class WrapRequest:
    """A backend asking for its own answer to be wrapped (Vault's WrapInfo set by a backend): the
    shorter of this TTL and the request's X-Vault-Wrap-TTL wins. A rewrap hands over the response
    already stored and the path it was first wrapped at, so the new token holds the same thing."""

    ttl: int
    creation_path: str = ""
    stored_response: str | None = field(default=None, repr=False)


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
    # Response wrapping: `wrap` is a backend's own request for it, `wrap_info` what the core answers
    # with once the content is stored in the wrapping token's cubbyhole.
    wrap: WrapRequest | None = None
    wrap_info: WrapInfo | None = None

    def envelope(self, request_id: str, mount_type: str = "") -> dict[str, Any]:
        """Vault's response body."""
        return {
            "request_id": request_id,
            "lease_id": self.lease_id,
            "renewable": self.renewable,
            "lease_duration": self.lease_duration,
            "data": self.data,
            "wrap_info": None if self.wrap_info is None else self.wrap_info.to_json(),
            "warnings": self.warnings or None,
            "auth": self.auth,
            "mount_type": mount_type,
        }


@dataclass
class RawResponse(Response):
    """A body sent as it is instead of the envelope (Vault's HTTPRawBody): what sys/wrapping/unwrap
    answers, the wrapped response exactly as it was stored."""

    body: dict[str, Any] = field(default_factory=dict, repr=False)
    status: int | None = 200

    def envelope(self, request_id: str, mount_type: str = "") -> dict[str, Any]:
        return self.body


@dataclass
class BytesResponse(Response):
    """A body sent as bytes under its own content type instead of the envelope (Vault's http_raw_body
    with http_content_type): a certificate or CRL as DER or PEM."""

    body: bytes = field(default=b"", repr=False)
    content_type: str = "application/octet-stream"
    status: int | None = 200
