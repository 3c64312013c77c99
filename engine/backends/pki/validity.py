"""How long a certificate is valid: Vault's getCertificateNotAfter. The TTL asked for, else the role's,
else the mount's default; capped by the role's (or the mount's) max with a warning; and never past the
issuing CA's own notAfter (Vault's default leaf_not_after_behavior "err")."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.errors import BadRequest

# Vault's not_before_duration: certificates are back-dated so a slightly slow client clock accepts them.
BACKDATE = timedelta(seconds=30)


def go_duration(seconds: int) -> str:
    """Go's time.Duration spelling, as Vault's warnings show TTLs ("720h0m0s")."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class Validity:
    not_before: datetime
    not_after: datetime
    warnings: tuple[str, ...] = ()


def validity(
    *,
    now: datetime,
    requested_ttl: int,
    role_ttl: int,
    role_max_ttl: int,
    mount_default_ttl: int,
    mount_max_ttl: int,
    ca_not_after: datetime | None,
) -> Validity:
    ttl = requested_ttl or role_ttl or mount_default_ttl
    max_ttl = role_max_ttl or mount_max_ttl
    warnings: tuple[str, ...] = ()
    if ttl > max_ttl:
        warnings = (
            f'TTL "{go_duration(ttl)}" is longer than permitted maxTTL "{go_duration(max_ttl)}", '
            "so maxTTL is being used",
        )
        ttl = max_ttl
    not_after = now + timedelta(seconds=ttl)
    if ca_not_after is not None and not_after > ca_not_after:
        raise BadRequest(
            f"cannot satisfy request, as TTL would result in notAfter of {not_after.isoformat()} that is "
            f"beyond the expiration of the CA certificate at {ca_not_after.isoformat()}"
        )
    return Validity(now - BACKDATE, not_after, warnings)


def new_serial() -> int:
    """A random positive serial of 159 bits, as Vault's certutil.GenerateSerialNumber."""
    return secrets.randbits(159) | 1
