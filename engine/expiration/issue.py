"""A backend's answer carrying a secret becomes a lease (Vault's request handling around Register):
the TTL is settled against the mount, the lease registered, and the response told its id."""

from __future__ import annotations

import logging
from datetime import datetime

from engine.expiration.links import TokenLike
from engine.expiration.manager import ExpirationManager, mount_limits
from engine.framework import SecretLease
from engine.request import Response, Secret
from engine.router import Route
from engine.tokens.ttl import calculate_ttl

log = logging.getLogger("engine.expiration")

# Vault's KV engines hand back a TTL hint but never register leases (they would slow every read).
UNLEASED_TYPES = ("kv", "generic")


async def lease_secret(
    manager: ExpirationManager,
    *,
    path: str,
    route: Route,
    response: Response,
    token: TokenLike | None,
    now: datetime,
) -> None:
    """Register `response.secret` (issued at the full request `path`) and fill in the response's
    lease_id, lease_duration and renewable. The secret's internal data goes to the lease only."""
    secret = response.secret
    response.secret = None
    if secret is None:
        return
    if route.entry.type in UNLEASED_TYPES:
        response.lease_duration, response.renewable = secret.ttl, False
        return
    granted = calculate_ttl(
        mount_limits(route), now=int(now.timestamp()), backend_ttl=secret.ttl, backend_max_ttl=secret.max_ttl
    )
    response.warnings.extend(granted.warnings)
    try:
        lease = await manager.register_secret(
            path=path,
            ttl=granted.ttl,
            max_ttl=secret.max_ttl,
            # As Vault's framework does: a secret is renewable only if its backend can renew it.
            renewable=secret.renewable and route.backend.renews_secrets(),
            internal_data=secret.internal_data,
            token=token,
        )
    except BaseException:
        # An untracked secret would never be revoked: take it back before failing the request.
        await _take_back(route, path, secret, now)
        raise
    response.lease_id = lease.lease_id
    response.lease_duration = max(0, round(lease.expire_time - now.timestamp()))
    response.renewable = lease.renewable


async def _take_back(route: Route, path: str, secret: Secret, now: datetime) -> None:
    lease = SecretLease(
        lease_id="",
        path=path.removeprefix(route.entry.path),
        issue_time=now,
        ttl=secret.ttl,
        max_ttl=secret.max_ttl,
        internal_data=dict(secret.internal_data),
    )
    try:
        await route.backend.revoke_secret(lease, route.storage)
    except Exception as exc:
        log.error("an additional error was encountered revoking the newly-generated secret at %s: %s", path, exc)
