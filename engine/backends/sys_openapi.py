"""sys/internal/specs/openapi: an OpenAPI 3 document of the mounted backends (Vault's
pathInternalOpenAPI), built from the live mount table on every request so a new mount shows at once.

Unauthenticated as in Vault, and like sys/internal/ui/mounts it shows only the mounts the calling token
may use: with no token (or an unknown one) the document lists no mounts. `generic_mount_paths` replaces
each mount's path with a {<mount>_mount_path} parameter, as Vault does."""

from __future__ import annotations

import re
from typing import Any

from engine.backends.system_context import SystemContext
from engine.framework import Field, FieldData, FieldType, Path
from engine.openapi import MountedBackend, build_document, responses
from engine.request import Op, RawResponse, Request, Response
from engine.storage.base import Storage

SPEC_PATH = "internal/specs/openapi"
_DOCUMENT_SCHEMA = {"type": "object", "required": ["openapi", "info", "paths"]}


class OpenApiSection:
    def __init__(self, context: SystemContext) -> None:
        self.context = context

    def paths(self) -> list[Path]:
        return [
            Path(
                SPEC_PATH,
                # Vault answers a write the same as a read (older clients POST to it).
                operations={Op.READ: self.read_document, Op.UPDATE: self.read_document},
                fields={
                    "generic_mount_paths": Field(
                        FieldType.BOOL, description="Replace mount paths with a {<mount>_mount_path} parameter."
                    ),
                    "context": Field(FieldType.STRING, description="Context string appended to every operationId."),
                },
                synopsis="An OpenAPI 3 document of the endpoints the calling token can use.",
            )
        ]

    async def read_document(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        acl = await self.context.caller_acl(req)
        mounts = [
            MountedBackend(route.entry.path, route.entry.type, route.backend)
            for route in self.context.mounts.router.routes()
            if acl is not None and acl.has_mount_access(route.entry.path)
        ]
        document = build_document(mounts)
        for served in document["paths"].get("/sys/" + SPEC_PATH, {}).values():
            if isinstance(served, dict) and "responses" in served:  # this very answer is the document itself
                served["responses"] = responses(success={"application/json": {"schema": _DOCUMENT_SCHEMA}})
        context = data.get("context")
        if context:
            for item in document["paths"].values():
                for operation in item.values():
                    if isinstance(operation, dict) and "operationId" in operation:
                        operation["operationId"] += "-" + context
        if data.get("generic_mount_paths"):
            document["paths"] = _generic(document["paths"], mounts)
        return RawResponse(body=document)


_SINGLETONS = ("sys/", "auth/token/", "cubbyhole/", "identity/")


def _generic(paths: dict[str, Any], mounts: list[MountedBackend]) -> dict[str, Any]:
    """Vault's generic_mount_paths: "/secret/data/{path}" -> "/{secret_mount_path}/data/{path}", except
    for the mounts that exist once (sys/, auth/token/, cubbyhole/)."""
    renamed: dict[str, Any] = {}
    by_length = sorted((m for m in mounts if m.path not in _SINGLETONS), key=lambda m: -len(m.path))
    for url, item in paths.items():
        for mount in by_length:
            if url.startswith("/" + mount.path):
                auth = mount.path.startswith("auth/")
                name = re.sub(r"\W", "_", mount.type) + "_mount_path"
                prefix = "/auth/{" + name + "}/" if auth else "/{" + name + "}/"
                url = prefix + url[len(mount.path) + 1 :]
                param = {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                item = {**item, "parameters": [param, *item.get("parameters", [])]}
                break
        renamed.setdefault(url, item)
    return renamed
