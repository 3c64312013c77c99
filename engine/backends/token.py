"""The token auth method, mounted at auth/token/: look up, create and revoke tokens, with Vault's
request and response shapes. This is the minimal set hvac and curl need; roles, renewals, accessors
endpoints and use-limited or batch tokens come with the full token store."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from engine.errors import BadRequest, PermissionDenied
from engine.framework import Backend, Field, FieldData, FieldType, Path
from engine.mounts import MountEntry
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import ROOT_PATH, TokenEntry, TokenStore, rfc3339

_TOKEN_FIELD = {"token": Field(FieldType.STRING, description="The token to look up or revoke.")}

_CREATE_FIELDS = {
    "id": Field(FieldType.STRING, description="The token value; root only."),
    "role_name": Field(FieldType.STRING),
    "policies": Field(FieldType.LIST),
    "meta": Field(FieldType.KV_PAIRS),
    "no_parent": Field(FieldType.BOOL),
    "no_default_policy": Field(FieldType.BOOL),
    "renewable": Field(FieldType.BOOL, default=True),
    "ttl": Field(FieldType.DURATION),
    "lease": Field(FieldType.DURATION, description="Deprecated alias of ttl."),
    "type": Field(FieldType.STRING),
    "explicit_max_ttl": Field(FieldType.DURATION),
    "display_name": Field(FieldType.STRING),
    "num_uses": Field(FieldType.INT),
    "period": Field(FieldType.DURATION),
    "entity_alias": Field(FieldType.STRING),
}

_DISPLAY_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9-]")


def sanitize_policies(policies: list[str], add_default: bool) -> list[str]:
    """Vault's policyutil.SanitizePolicies: lower-case, trimmed, sorted, unique; "root" stands alone;
    "default" is added unless the token is root."""
    names = [p.strip().lower() for p in policies]
    names = [p for p in names if p]
    if "root" in names:
        return ["root"]
    if add_default:
        names.append("default")
    return sorted(set(names))


class TokenBackend(Backend):
    def __init__(self, mount: MountEntry, tokens: TokenStore) -> None:
        self.mount = mount
        self.tokens = tokens
        self.paths = [
            Path(
                "lookup-self",
                fields=_TOKEN_FIELD,
                operations={Op.READ: self.lookup_self, Op.UPDATE: self.lookup_self},
                synopsis="Look up the calling token's properties.",
            ),
            Path(
                "lookup",
                fields=_TOKEN_FIELD,
                operations={Op.READ: self.lookup, Op.UPDATE: self.lookup},
                synopsis="Look up a token's properties.",
            ),
            Path("revoke-self", operations={Op.UPDATE: self.revoke_self}, synopsis="Revoke the caller."),
            Path("revoke", fields=_TOKEN_FIELD, operations={Op.UPDATE: self.revoke}, synopsis="Revoke one."),
            Path("create", fields=_CREATE_FIELDS, operations={Op.UPDATE: self.create}, synopsis="New token."),
            Path(
                "create-orphan",
                fields=_CREATE_FIELDS,
                operations={Op.UPDATE: self.create_orphan},
                synopsis="Create a token without a parent.",
            ),
        ]

    # --- lookup / revoke ------------------------------------------------------------------------

    async def lookup_self(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._lookup(req.client_token or "")

    async def lookup(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._lookup(data.get("token") or req.client_token or "")

    async def _lookup(self, token: str) -> Response:
        if not token:
            raise BadRequest("missing token ID")
        entry = await self.tokens.lookup(token)
        if entry is None:
            raise PermissionDenied("bad token")
        return Response(data=self.describe(entry, token))

    async def revoke_self(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.tokens.revoke(req.client_token or "")
        return None

    async def revoke(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = data.get("token")
        if not token:
            raise BadRequest("missing token ID")
        await self.tokens.revoke(token)
        return None

    def describe(self, entry: TokenEntry, token: str) -> dict[str, Any]:
        """Vault's lookup answer. The token value is not stored: `token` is what the caller presented."""
        expires = entry.expire_time()
        answer: dict[str, Any] = {
            "accessor": entry.accessor,
            "creation_time": entry.creation_time,
            "creation_ttl": entry.ttl,
            "display_name": entry.display_name,
            "entity_id": entry.entity_id,
            "expire_time": rfc3339(expires) if expires is not None else None,
            "explicit_max_ttl": entry.explicit_max_ttl,
            "id": token,
            "meta": entry.meta,
            "num_uses": entry.num_uses,
            "orphan": entry.orphan,
            "path": entry.path,
            "policies": entry.policies,
            "ttl": entry.remaining(self.tokens.clock()),
            "type": entry.type,
        }
        # Vault shows lease details only for tokens registered with its expiration manager, which the
        # root token made at init is not.
        if entry.path != ROOT_PATH:
            answer["issue_time"] = rfc3339(datetime.fromtimestamp(entry.creation_time, UTC))
            answer["renewable"] = entry.renewable
        return answer

    # --- create ---------------------------------------------------------------------------------

    async def create(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._create(req, data, orphan=data.get("no_parent"), orphan_endpoint=False)

    async def create_orphan(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._create(req, data, orphan=True, orphan_endpoint=True)

    async def _create(
        self, req: Request, data: FieldData, *, orphan: bool, orphan_endpoint: bool
    ) -> Response:
        parent = await self.tokens.lookup(req.client_token or "")
        if parent is None:
            raise PermissionDenied()
        _refuse_unsupported(data)

        requested, given = data.get_ok("policies")
        add_default = not data.get("no_default_policy")
        policies = sanitize_policies(requested if given else parent.policies, add_default)
        if not parent.is_root and not set(policies) <= {*parent.policies, "default"}:
            raise BadRequest("child policies must be subset of parent")
        if orphan and not orphan_endpoint and not parent.is_root:
            raise BadRequest("root or sudo privileges required to create orphan token")

        token_id = data.get("id") or None
        if token_id is not None:
            if not parent.is_root:
                raise BadRequest("root or sudo privileges required to specify token id")
            if "." in token_id:
                raise BadRequest("token IDs can not contain periods")
            if await self.tokens.exists(token_id):
                raise BadRequest("cannot create a token with a duplicate ID")

        ttl = data.get("ttl") or data.get("lease")
        if ttl == 0 and "root" not in policies:
            ttl = self.mount.default_lease_ttl()  # only root tokens may live forever
        ttl = min(ttl, self.mount.max_lease_ttl()) if ttl else 0

        display_name = "token"
        if data.get("display_name"):
            display_name = _DISPLAY_NAME_UNSAFE.sub("-", "token-" + data.get("display_name")).rstrip("-")

        token, entry = await self.tokens.create(
            policies=policies,
            path="auth/token/create-orphan" if orphan_endpoint else "auth/token/create",
            display_name=display_name,
            meta=data.get("meta") or None,
            ttl=ttl,
            explicit_max_ttl=data.get("explicit_max_ttl"),
            renewable=data.get("renewable"),
            parent=None if orphan else parent,
            token=token_id,
        )
        return Response(
            auth={
                "client_token": token,
                "accessor": entry.accessor,
                "policies": entry.policies,
                "token_policies": entry.policies,
                "metadata": entry.meta,
                "lease_duration": entry.ttl,
                "renewable": entry.renewable,
                "entity_id": entry.entity_id,
                "token_type": entry.type,
                "orphan": entry.orphan,
                "mfa_requirement": None,
                "num_uses": entry.num_uses,
            }
        )


def _refuse_unsupported(data: FieldData) -> None:
    # Refused rather than ignored: a use-limited or periodic token that silently was not would be
    # a token more powerful than its creator asked for.
    if data.get("num_uses"):
        raise BadRequest("num_uses is not supported yet")
    if data.get("period"):
        raise BadRequest("period is not supported yet")
    if data.get("role_name") or data.get("entity_alias"):
        raise BadRequest("token roles are not supported yet")
    if data.get("type") not in ("", "service", "default", "default-service"):
        raise BadRequest(f"token type {data.get('type')!r} is not supported yet")
