"""Tokens: who a request is. The store (store.py), entries (entry.py), batch tokens (batch.py), TTL
rules (ttl.py), roles (roles.py), what a login token's renewal asks of its auth method (renewal.py) and
the auth block a new or renewed token is answered with."""

from typing import Any

from engine.tokens.batch import BATCH_PREFIX, is_batch_token
from engine.tokens.entry import BATCH, ROOT_PATH, SERVICE, USED_UP, Clock, TokenEntry, rfc3339, utc_now
from engine.tokens.policy_names import sanitize_policies
from engine.tokens.renewal import LoginRenewal, RenewTerms, login_auth
from engine.tokens.roles import RoleStore, TokenRole
from engine.tokens.store import (
    ACCESSOR_PREFIX,
    BATCH_KEY,
    ID_PREFIX,
    PARENT_PREFIX,
    SALT_KEY,
    SYSTEM_LIMITS,
    TOKEN_PREFIX,
    TokenHook,
    TokenStore,
)
from engine.tokens.ttl import Granted, Limits, calculate_ttl


def auth_block(token: str, entry: TokenEntry) -> dict[str, Any]:
    """Vault's `auth` object for a token just created, logged in or renewed."""
    return {
        "client_token": token,
        "accessor": entry.accessor,
        "policies": entry.policies,
        "token_policies": entry.policies,
        "metadata": entry.meta,
        "lease_duration": entry.lease_ttl,
        "renewable": entry.renewable,
        "entity_id": entry.entity_id,
        "token_type": entry.type,
        "orphan": entry.orphan,
        "mfa_requirement": None,
        "num_uses": entry.num_uses,
    }


__all__ = [
    "ACCESSOR_PREFIX",
    "BATCH",
    "BATCH_KEY",
    "BATCH_PREFIX",
    "ID_PREFIX",
    "PARENT_PREFIX",
    "ROOT_PATH",
    "SALT_KEY",
    "SERVICE",
    "SYSTEM_LIMITS",
    "TOKEN_PREFIX",
    "USED_UP",
    "Clock",
    "Granted",
    "Limits",
    "LoginRenewal",
    "RenewTerms",
    "RoleStore",
    "TokenEntry",
    "TokenHook",
    "TokenRole",
    "TokenStore",
    "auth_block",
    "calculate_ttl",
    "is_batch_token",
    "login_auth",
    "rfc3339",
    "sanitize_policies",
    "utc_now",
]
