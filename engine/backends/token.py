"""The token auth method, mounted at auth/token/ (Vault's token store backend): create, look up, renew
and revoke tokens, by value or by accessor, and token roles, with Vault's request and response shapes
and messages. Creation rules live in token_create.py, roles in token_roles.py."""

from __future__ import annotations

from typing import Any

from engine.backends.token_context import PolicySource, TokenContext
from engine.backends.token_create import CREATE_FIELDS, create_token
from engine.backends.token_roles import ROLE_NAME, RolePaths
from engine.errors import BadRequest, PermissionDenied
from engine.framework import Backend, Field, FieldData, FieldType, Path, SpecialPaths
from engine.mounts import MountEntry
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import TokenEntry, TokenStore, auth_block, rfc3339, sanitize_policies
from engine.tokens.entry import from_unix

__all__ = ["TokenBackend", "describe", "sanitize_policies"]

_TOKEN = {"token": Field(FieldType.STRING, description="The token (request body).")}
_ACCESSOR = {"accessor": Field(FieldType.STRING, description="Accessor of the token (request body).")}
_INCREMENT = {
    "increment": Field(FieldType.DURATION, default=0, description="The desired increment in seconds."),
}

TIDY_STARTED = (
    "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."
)


class TokenBackend(Backend):
    # Vault's token store PathsSpecial.Root: listing accessors needs sudo (revoke-orphan checks it in
    # its handler, to answer Vault's own message).
    special_paths = SpecialPaths(root=("revoke-orphan/*", "accessors*"))

    def __init__(self, mount: MountEntry, tokens: TokenStore, policies: PolicySource | None = None) -> None:
        self.ctx = TokenContext(mount, tokens, policies)
        roles = RolePaths(self.ctx)
        self.paths = [
            *roles.paths(),
            Path(r"accessors/?", operations={Op.LIST: self.list_accessors}, synopsis="List token accessors."),
            _update("create-orphan", CREATE_FIELDS, self.create_orphan, "Create an orphan token."),
            _update(f"create/{ROLE_NAME}", CREATE_FIELDS, self.create_with_role, "Create a token from a role."),
            _update("create", CREATE_FIELDS, self.create, "Create a child token."),
            Path(
                "lookup",
                fields=_TOKEN,
                operations={Op.READ: self.lookup, Op.UPDATE: self.lookup},
                synopsis="Look up a token's properties.",
            ),
            _update("lookup-accessor", _ACCESSOR, self.lookup_accessor, "Look up a token by accessor."),
            Path(
                "lookup-self",
                fields=_TOKEN,
                operations={Op.READ: self.lookup_self, Op.UPDATE: self.lookup_self},
                synopsis="Look up the calling token's properties.",
            ),
            _update("revoke-accessor", _ACCESSOR, self.revoke_accessor, "Revoke a token by accessor."),
            _update("revoke-self", {}, self.revoke_self, "Revoke the calling token and its children."),
            _update("revoke", _TOKEN, self.revoke, "Revoke a token and its children."),
            _update("revoke-orphan", _TOKEN, self.revoke_orphan, "Revoke a token, orphaning its children."),
            _update("renew-accessor", {**_ACCESSOR, **_INCREMENT}, self.renew_accessor, "Renew by accessor."),
            _update("renew-self", {**_TOKEN, **_INCREMENT}, self.renew_self, "Renew the calling token."),
            _update("renew", {**_TOKEN, **_INCREMENT}, self.renew, "Renew a token."),
            _update("tidy", {}, self.tidy, "Clean up dangling token index entries."),
        ]

    @property
    def tokens(self) -> TokenStore:
        return self.ctx.tokens

    @property
    def policies(self) -> PolicySource | None:
        return self.ctx.policies

    @policies.setter
    def policies(self, source: PolicySource | None) -> None:
        self.ctx.policies = source

    # --- create ------------------------------------------------------------------------------------

    async def create(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await create_token(self.ctx, req, data, orphan=False, role=None)

    async def create_orphan(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await create_token(self.ctx, req, data, orphan=True, role=None)

    async def create_with_role(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        name = data.get("role_name")
        role = await self.tokens.roles.get(name)
        if role is None:
            raise BadRequest(f"unknown role {name}")
        return await create_token(self.ctx, req, data, orphan=False, role=role)

    # --- lookup ------------------------------------------------------------------------------------

    async def lookup_self(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = req.client_token or ""
        # The core has just looked the caller's token up and counted this use: that entry is the answer.
        entry = req.token_entry if isinstance(req.token_entry, TokenEntry) else None
        return Response(data=self.describe(entry or await self.ctx.lookup_for_display(token), token))

    async def lookup(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = data.get("token") or req.client_token or ""
        return Response(data=self.describe(await self.ctx.lookup_for_display(token), token))

    async def lookup_accessor(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        id_hash = await self._accessor(data)
        entry = await self.tokens.lookup_hash(id_hash, tainted=True)
        if entry is None:
            raise PermissionDenied("bad token")
        return Response(data=self.describe(entry, ""))

    async def list_accessors(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data={"keys": await self.tokens.accessors()})

    async def _accessor(self, data: FieldData) -> str:
        accessor = data.get("accessor")
        if not accessor:
            raise BadRequest("missing accessor")
        id_hash = await self.tokens.accessor_hash(accessor)
        if id_hash is None:
            raise BadRequest("invalid accessor")
        return id_hash

    def describe(self, entry: TokenEntry, token: str) -> dict[str, Any]:
        return describe(entry, token, self.tokens.now())

    # --- revoke ------------------------------------------------------------------------------------

    async def revoke_self(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self._revoke_tree(await self.tokens.lookup(req.client_token or ""))
        return None

    async def revoke(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = data.get("token")
        if not token:
            raise BadRequest("missing token ID")
        await self._revoke_tree(await self.tokens.lookup(token))
        return None

    async def revoke_accessor(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        accessor = data.get("accessor")
        if not accessor:
            raise BadRequest("missing accessor")
        id_hash = await self.tokens.accessor_hash(accessor)
        if id_hash is None:
            return Response(warnings=["No token found with this accessor"])
        entry = await self.tokens.lookup_hash(id_hash)
        if entry is None:
            raise BadRequest("token not found")
        await self._revoke_tree(entry)
        return None

    async def _revoke_tree(self, entry: TokenEntry | None) -> None:
        # Revoking a token that is not there is not an error: the outcome is the one asked for.
        if entry is not None:
            await self.tokens.revoke_tree(entry)

    async def revoke_orphan(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = data.get("token")
        if not token:
            raise BadRequest("missing token ID")
        caller = await self.ctx.caller(req)
        if caller is None or not await self.ctx.has_sudo(caller, req):
            raise BadRequest("root or sudo privileges required to revoke and orphan")
        entry = await self.tokens.lookup(token)
        if entry is None:
            raise BadRequest("token to revoke not found")
        await self.tokens.revoke_orphan(entry)
        return None

    # --- renew -------------------------------------------------------------------------------------

    async def renew_self(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = req.client_token or ""
        return await self._renew(await self._renewable(token), token, data)

    async def renew(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = data.get("token")
        return await self._renew(await self._renewable(token), token, data)

    async def renew_accessor(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        entry = await self.tokens.lookup_hash(await self._accessor(data))
        if entry is None:
            raise BadRequest("token not found")
        # The accessor's holder may renew the token but never learn it.
        return await self._renew(entry, "", data)

    async def _renewable(self, token: str) -> TokenEntry:
        if not token:
            raise BadRequest("missing token ID")
        entry = await self.tokens.lookup(token)
        if entry is None:
            raise BadRequest("token not found")
        return entry

    async def _renew(self, entry: TokenEntry, token: str, data: FieldData) -> Response | None:
        warnings: list[str] = []
        # Tokens made here renew within this mount's current limits; login tokens as their auth method
        # says, within its mount's current limits.
        limits = self.ctx.limits() if entry.path.startswith(self.ctx.mount.path) else None
        renewed = await self.tokens.renew(entry, data.get("increment"), limits=limits, warnings=warnings)
        if renewed is None:
            return None  # the auth method refused (its user or role is gone): Vault answers nothing
        return Response(auth=auth_block(token, renewed), warnings=warnings)

    # --- tidy --------------------------------------------------------------------------------------

    async def tidy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.tokens.tidy()
        return Response(warnings=[TIDY_STARTED], status=202)


def describe(entry: TokenEntry, token: str, now: int) -> dict[str, Any]:
    """Vault's token lookup answer. The token value is not stored: `token` is what the caller presented
    ("" when looked up by accessor)."""
    answer: dict[str, Any] = {
        "accessor": entry.accessor,
        "creation_time": entry.creation_time,
        "creation_ttl": entry.ttl,
        "display_name": entry.display_name,
        "entity_id": entry.entity_id,
        "expire_time": None,
        "explicit_max_ttl": entry.explicit_max_ttl,
        "id": token,
        "meta": entry.meta,
        "num_uses": entry.num_uses,
        "orphan": entry.orphan,
        "path": entry.path,
        "policies": entry.policies,
        "ttl": 0,
        "type": entry.type,
    }
    if entry.role:
        answer["role"] = entry.role
    if entry.period:
        answer["period"] = entry.period
    if entry.bound_cidrs:
        answer["bound_cidrs"] = entry.bound_cidrs
    if not entry.has_lease:
        return answer
    # What Vault reads from the token's lease.
    if entry.last_renewal_time:
        answer["last_renewal_time"] = entry.last_renewal_time
        answer["last_renewal"] = rfc3339(from_unix(entry.last_renewal_time))
    if entry.expires:
        answer["expire_time"] = rfc3339(from_unix(entry.expires))
        answer["ttl"] = max(0, entry.expires - now)
    answer["renewable"] = bool(entry.expires) and entry.renewable and entry.expires > now
    answer["issue_time"] = rfc3339(from_unix(entry.creation_time))
    return answer


def _update(pattern: str, fields: dict[str, Field], handler: Any, synopsis: str) -> Path:
    return Path(pattern, fields=fields, operations={Op.UPDATE: handler}, synopsis=synopsis)
