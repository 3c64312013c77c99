"""Leases: the expiration manager and what it is built from."""

from engine.expiration.entry import SECRET, TOKEN, LeaseEntry
from engine.expiration.links import RouteLookup, TokenLike, TokenLink
from engine.expiration.login_renew import LoginRenewal, RenewsAuth
from engine.expiration.manager import ExpirationManager, lease_id_for, mount_limits
from engine.expiration.retry import MAX_REVOKE_ATTEMPTS, REVOKE_RETRY_BASE, RetryPolicy, RevocationFailed

__all__ = [
    "MAX_REVOKE_ATTEMPTS",
    "REVOKE_RETRY_BASE",
    "SECRET",
    "TOKEN",
    "ExpirationManager",
    "LeaseEntry",
    "LoginRenewal",
    "RenewsAuth",
    "RetryPolicy",
    "RevocationFailed",
    "RouteLookup",
    "TokenLike",
    "TokenLink",
    "lease_id_for",
    "mount_limits",
]
