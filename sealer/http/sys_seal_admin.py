"""Sealer's own sys endpoints for the seal's keys (Vault has no such API; hence the sys/sealer/ prefix).
Each needs a root token and an unsealed daemon.

    GET    sys/sealer/seal                  the stored wrappings of the root key, token health, break-glass
    PUT    sys/sealer/seal/rewrap           HSM key rotation {key_label, hmac_key_label?, token?, token_label?,
                                            generate_key?}
    GET    sys/sealer/seal/rewrap           a rotation left staged by a crash, if any
    DELETE sys/sealer/seal/rewrap           abort it (the old key stays in force)
    PUT    sys/sealer/seal/reconcile        check every token now; wrap the root key under those without one
    DELETE sys/sealer/seal/wrappings/{id}   drop the wrapping of a token no longer configured

Seal migration goes through Vault's own sys/unseal with migrate=true (sealer/http/sys_seal.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.errors import BadRequest, PermissionDenied
from sealer import seal_admin
from sealer.http.edge import add_get, add_route
from sealer.http.keys import SEAL_MANAGER
from sealer.http.parse import client_token, json_body
from sealer.http.responses import json_response
from sealer.seal_manager import SealManager
from sealer.seal_rotation import RewrapRequest

_REWRAP_FIELDS = {"key_label", "hmac_key_label", "token", "token_label", "generate_key"}


async def root_only(request: web.Request) -> SealManager:
    manager = request.app[SEAL_MANAGER]
    core = manager.active_core()
    token = client_token(request)
    if not token or not await core.is_root_token(token):
        raise PermissionDenied()
    return manager


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string")
    return value


async def read_seal(request: web.Request) -> web.Response:
    return json_response(await seal_admin.describe(await root_only(request)))


async def write_rewrap(request: web.Request) -> web.Response:
    manager = await root_only(request)
    body = await json_body(request)
    unknown = sorted(set(body) - _REWRAP_FIELDS)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    generate = body.get("generate_key")
    if generate is not None and not isinstance(generate, bool):
        raise BadRequest("'generate_key' must be a boolean")
    key_label = _text(body, "key_label", required=True)
    assert key_label is not None
    rewrap = RewrapRequest(key_label=key_label, hmac_key_label=_text(body, "hmac_key_label"),
                           token=_text(body, "token"), token_label=_text(body, "token_label"), generate_key=generate)
    return json_response(await seal_admin.rewrap(manager, rewrap))


async def read_rewrap(request: web.Request) -> web.Response:
    return json_response(await seal_admin.rewrap_status(await root_only(request)))


async def delete_rewrap(request: web.Request) -> web.Response:
    return json_response(await seal_admin.abort_rewrap(await root_only(request)))


async def write_reconcile(request: web.Request) -> web.Response:
    return json_response(await seal_admin.reconcile(await root_only(request)))


async def delete_wrapping(request: web.Request) -> web.Response:
    manager = await root_only(request)
    return json_response(await seal_admin.remove_wrapping(manager, request.match_info["wrapping_id"]))


def add_routes(app: web.Application) -> None:
    add_get(app, "/v1/sys/sealer/seal", read_seal, allow_head=False)
    for method in ("PUT", "POST"):
        add_route(app, method, "/v1/sys/sealer/seal/rewrap", write_rewrap)
        add_route(app, method, "/v1/sys/sealer/seal/reconcile", write_reconcile)
    add_get(app, "/v1/sys/sealer/seal/rewrap", read_rewrap, allow_head=False)
    add_route(app, "DELETE", "/v1/sys/sealer/seal/rewrap", delete_rewrap)
    add_route(app, "DELETE", "/v1/sys/sealer/seal/wrappings/{wrapping_id}", delete_wrapping)
