"""The expiration manager wired to the token store: the store's hooks report each leased token's
creation, renewal and revocation to the manager, and the manager revokes token trees through the
store when their leases run out."""

from __future__ import annotations

from engine.expiration.manager import ExpirationManager
from engine.tokens import ID_PREFIX, TokenEntry, TokenStore


class StoreLink:
    """The manager's TokenLink over a TokenStore."""

    def __init__(self, store: TokenStore) -> None:
        self._store = store

    async def find(self, token_hash: str) -> TokenEntry | None:
        # Expired or not: an expired token still has to be revoked (its children and leases with it).
        if not token_hash or "/" in token_hash or ".." in token_hash:
            return None
        raw = await self._store.storage.get(ID_PREFIX + token_hash)
        return None if raw is None else TokenEntry.from_json(raw)

    async def revoke_tree(self, token_hash: str) -> None:
        entry = await self.find(token_hash)
        if entry is not None:
            await self._store.revoke_tree(entry)


def link(store: TokenStore, manager: ExpirationManager) -> None:
    store.lease_writes = manager.token_lease
    store.on_renewed = manager.token_renewed
    store.on_revoked = manager.revoke_by_token
