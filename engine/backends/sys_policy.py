"""sys/policy, sys/policies/acl and sys/capabilities*: ACL policy management and "what may this token
do here", with Vault's request and response shapes.

sys/policy is Vault's older API (the text under "rules", listings also under "policies"); hvac's
sys.*_policy calls use it. sys/policies/acl is the current one (the text under "policy").
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from engine.backends.system_context import SystemContext
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path
from engine.policy import ROOT_POLICY, PolicyStore, normalize_request_path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_PATHS_FIELDS = {
    "paths": Field(FieldType.LIST, description="Paths on which capabilities are being queried."),
    "path": Field(FieldType.LIST, description="Deprecated: use 'paths'."),
}


class PolicySection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    @property
    def store(self) -> PolicyStore:
        store = self.context.policies
        if store is None:
            raise RuntimeError("the policy store is not wired into the system backend")
        return store

    def paths(self) -> list[Path]:
        return [
            Path(
                "policy/?",
                operations={Op.READ: self.list_legacy, Op.LIST: self.list_legacy},
                synopsis="List the ACL policies (older API).",
            ),
            Path(
                "policy/(?P<name>.+)",
                fields={
                    "policy": Field(FieldType.STRING, description="The policy document (HCL or JSON)."),
                    "rules": Field(FieldType.STRING, description="Deprecated: use 'policy'."),
                },
                operations={Op.READ: self.read_legacy, Op.UPDATE: self.write_legacy, Op.DELETE: self.delete},
                synopsis="Read, write or delete an ACL policy (older API).",
            ),
            Path(
                "policies/acl/?",
                operations={Op.LIST: self.list_acl, Op.READ: self.list_acl},
                synopsis="List the ACL policies.",
            ),
            Path(
                "policies/acl/(?P<name>.+)",
                fields={"policy": Field(FieldType.STRING, description="The policy document (HCL or JSON).")},
                operations={Op.READ: self.read_acl, Op.UPDATE: self.write_acl, Op.DELETE: self.delete},
                synopsis="Read, write or delete an ACL policy.",
            ),
            Path(
                "capabilities",
                fields={"token": Field(FieldType.STRING, description="The token to check."), **_PATHS_FIELDS},
                operations={Op.UPDATE: self.capabilities},
                synopsis="A token's capabilities on paths.",
            ),
            Path(
                "capabilities-self",
                fields=_PATHS_FIELDS,
                operations={Op.UPDATE: self.capabilities_self},
                synopsis="The calling token's capabilities on paths.",
            ),
            Path(
                "capabilities-accessor",
                fields={"accessor": Field(FieldType.STRING, description="The token's accessor."), **_PATHS_FIELDS},
                operations={Op.UPDATE: self.capabilities_accessor},
                synopsis="The capabilities on paths of the token with this accessor.",
            ),
        ]

    # --- policies ---------------------------------------------------------------------------------

    async def _listing(self) -> list[str]:
        # Vault appends "root" after the sorted stored names.
        return [*await self.store.names(), ROOT_POLICY]

    async def list_legacy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        names = await self._listing()
        return Response(data={"keys": names, "policies": list(names)})

    async def list_acl(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data={"keys": await self._listing()})

    async def read_legacy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._read(data, text_key="rules")

    async def read_acl(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return await self._read(data, text_key="policy")

    async def _read(self, data: FieldData, *, text_key: str) -> Response | None:
        policy = await self.store.get(data.get("name"))
        if policy is None:
            return None
        return Response(data={"name": policy.name, text_key: policy.raw})

    async def write_legacy(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        text, warnings = data.get("policy"), []
        if not text and data.get("rules"):
            text = data.get("rules")
            warnings.append("'rules' is deprecated, please use 'policy' instead")
        await self._write(data.get("name"), text)
        return Response(warnings=warnings) if warnings else None

    async def write_acl(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self._write(data.get("name"), data.get("policy"))
        return None

    async def _write(self, name: str, text: str) -> None:
        if not text:
            raise BadRequest("'policy' parameter not supplied or empty")
        await self.store.put(name, _maybe_base64(text))

    async def delete(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        await self.store.delete(data.get("name"))
        return None

    # --- capabilities -----------------------------------------------------------------------------

    async def capabilities(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        token = data.get("token")
        if not token:
            raise BadRequest("missing token")
        entry = await self.context.tokens.lookup(token)
        if entry is None:
            raise BadRequest("invalid token")
        return await self._answer(entry.policies, data)

    async def capabilities_self(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        if req.token_entry is None:
            raise BadRequest("missing token")
        return await self._answer(req.token_entry.policies, data)

    async def capabilities_accessor(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        accessor = data.get("accessor")
        if not accessor:
            raise BadRequest("missing accessor")
        entry = await self.context.tokens.lookup_accessor(accessor)
        if entry is None:
            raise BadRequest("invalid accessor")
        return await self._answer(entry.policies, data)

    async def _answer(self, policies: list[str], data: FieldData) -> Response:
        paths: list[str] = data.get("paths") or data.get("path")
        if not paths:
            raise BadRequest("paths must be supplied")
        acl = await self.store.acl_for(policies)
        # Each path is judged in the form a request for it would be (cleaned), so the answer
        # predicts what that request gets; it is reported under the path as asked.
        answer: dict[str, Any] = {path: acl.capabilities(normalize_request_path(path)) for path in paths}
        if len(paths) == 1:
            answer["capabilities"] = answer[paths[0]]  # Vault's backwards-compatible field
        return Response(data=answer)


def _maybe_base64(text: str) -> str:
    """Vault accepts the policy base64-encoded: text that decodes strictly is taken decoded."""
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, ValueError):
        return text
