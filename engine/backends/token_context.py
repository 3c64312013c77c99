"""What the token backend's handlers share: its mount, the token store, and the policy engine, which it
asks only one question: does the caller have `sudo` on this path (Vault's SystemView.SudoPrivilege)?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import BadRequest, PermissionDenied
from engine.mounts import MountEntry
from engine.request import Op, Request
from engine.tokens import Limits, TokenEntry, TokenStore, is_batch_token


class Decision(Protocol):
    @property
    def sudo(self) -> bool: ...


class CompiledACL(Protocol):
    def check(self, op: Op, path: str, data: dict[str, Any]) -> Decision: ...


class PolicySource(Protocol):
    """The policy store as the token backend uses it."""

    async def acl_for(self, names: list[str]) -> CompiledACL: ...


@dataclass
class TokenContext:
    mount: MountEntry
    tokens: TokenStore
    # None until the core has a policy engine: then only root tokens have sudo.
    policies: PolicySource | None = None

    def limits(self) -> Limits:
        return Limits(self.mount.default_lease_ttl(), self.mount.max_lease_ttl())

    async def caller(self, req: Request) -> TokenEntry | None:
        """The calling token's entry: the one the core checked, or (for a core that does not pass it
        on) a fresh lookup of the presented token."""
        checked: TokenEntry | None = req.token_entry
        if checked is not None:
            return checked
        return await self.tokens.lookup(req.client_token or "")

    async def has_sudo(self, entry: TokenEntry, req: Request) -> bool:
        """Whether `entry`'s policies grant sudo on the full path of `req`."""
        if entry.is_root:
            return True
        if self.policies is None:
            return False
        acl = await self.policies.acl_for(list(entry.policies))
        return bool(acl.check(req.op, self.mount.path + req.path, dict(req.data)).sudo)

    async def lookup_for_display(self, token: str) -> TokenEntry:
        """A token for the lookup endpoints: found even while its last use is under way (Vault's
        tainted lookup); 403 "bad token" otherwise."""
        if not token:
            raise BadRequest("missing token ID")
        entry = await self.tokens.lookup(token)
        if entry is None and not is_batch_token(token):
            entry = await self.tokens.lookup_hash(self.tokens.hash_token(token), tainted=True)
        if entry is None:
            raise PermissionDenied("bad token")
        return entry
