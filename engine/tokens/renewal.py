"""What the token store needs to renew a login token: the auth method that issued it has a say (Vault's
RenewToken routes the renewal to that method's renew handler). The store asks through a hook the core
sets (engine.expiration.login_renew); the method answers with the Auth to apply, or None to refuse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.request import Auth
from engine.tokens.entry import TokenEntry
from engine.tokens.ttl import Limits


@dataclass(frozen=True)
class RenewTerms:
    """What a renewal applies: the TTL, max TTL, period and explicit max TTL to renew with and the
    internal data to keep (`auth`: an auth method's answer for its login tokens), within the issuing
    mount's TTL settings (`limits`)."""

    auth: Auth
    limits: Limits


# Called with the token's live entry; None means the method refused (the user or role is gone).
LoginRenewal = Callable[[TokenEntry], Awaitable[RenewTerms | None]]


def login_auth(entry: TokenEntry) -> Auth:
    """The login's Auth as the store keeps it (Vault's lease entry Auth): what the method's renew check
    is handed. The TTL is the latest grant, so a method that keeps it asks for the same again."""
    return Auth(
        policies=list(entry.policies),
        display_name=entry.display_name,
        metadata=dict(entry.meta or {}),
        ttl=entry.lease_ttl,
        max_ttl=entry.max_ttl,
        explicit_max_ttl=entry.explicit_max_ttl,
        period=entry.period,
        num_uses=max(entry.num_uses, 0),
        renewable=entry.renewable,
        token_type=entry.type,
        no_default_policy="default" not in entry.policies,
        bound_cidrs=list(entry.bound_cidrs),
        internal_data=dict(entry.internal_data),
    )
