"""What the expiration manager needs from the rest of the engine, as narrow protocols: the mounts
(to reach the backend that issued a secret) and the token store (to revoke a token tree)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.router import Route

# The mount that serves a full request path (None when nothing is mounted there).
RouteLookup = Callable[[str], "Route | None"]


class TokenLike(Protocol):
    """The part of a token entry the manager reads."""

    id_hash: str
    accessor: str
    path: str
    type: str
    parent_hash: str
    renewable: bool
    ttl: int
    creation_time: int

    def expire_time(self) -> datetime | None: ...


class TokenLink(Protocol):
    async def find(self, token_hash: str) -> TokenLike | None:
        """The stored token, expired or not; None once it is gone."""
        ...

    async def revoke_tree(self, token_hash: str) -> None:
        """Revoke the token and its children (each revocation reports back through the store's
        on_revoked hook, which revokes the token's leases)."""
        ...
