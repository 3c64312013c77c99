"""The sys endpoints that work before the barrier is open: init, unseal, seal status, health, seal."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from engine.errors import BadRequest, PermissionDenied
from sealer.http.edge import add_get, add_route
from sealer.http.keys import SEAL_MANAGER
from sealer.http.parse import client_token, json_body, query_flag
from sealer.http.responses import json_response, no_content
from sealer.init_pgp import InitPgp
from sealer.seal_manager import InitRequest

_INIT_FIELDS = {
    "secret_shares", "secret_threshold", "recovery_shares", "recovery_threshold",
    "pgp_keys", "root_token_pgp_key", "recovery_pgp_keys", "stored_shares",
}


def _int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"field '{name}': expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"field '{name}': expected an integer, got {value!r}") from None


async def read_init(request: web.Request) -> web.Response:
    return json_response({"initialized": await request.app[SEAL_MANAGER].initialized()})


async def write_init(request: web.Request) -> web.Response:
    body = await json_body(request)
    unknown = sorted(set(body) - _INIT_FIELDS)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}")
    manager = request.app[SEAL_MANAGER]
    secret_shares, recovery_shares = _int_field(body, "secret_shares"), _int_field(body, "recovery_shares")
    pgp = InitPgp.from_body(body, auto_unseal=manager.seal.auto_unseal, seal_type=manager.seal.type,
                            shares=recovery_shares if manager.seal.auto_unseal else secret_shares)
    if pgp is not None:
        await pgp.check()
    init = InitRequest(
        secret_shares=secret_shares,
        secret_threshold=_int_field(body, "secret_threshold"),
        recovery_shares=recovery_shares,
        recovery_threshold=_int_field(body, "recovery_threshold"),
        protect=None if pgp is None else pgp.protect,
    )
    result = await manager.initialize(init)
    return json_response(result.body())


async def seal_status(request: web.Request) -> web.Response:
    return json_response(await request.app[SEAL_MANAGER].status())


async def unseal(request: web.Request) -> web.Response:
    body = await json_body(request)
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        raise BadRequest("'key' must be a string (hex or base64)")
    reset = body.get("reset", False)
    if not isinstance(reset, bool):
        raise BadRequest("'reset' must be a boolean")
    migrate = body.get("migrate", False)
    if not isinstance(migrate, bool):
        raise BadRequest("'migrate' must be a boolean")
    return json_response(await request.app[SEAL_MANAGER].submit_share(key, reset, migrate=migrate))


async def seal(request: web.Request) -> web.Response:
    manager = request.app[SEAL_MANAGER]
    core = manager.active_core()
    token = client_token(request)
    if not token or not await core.is_root_token(token):
        raise PermissionDenied()
    await manager.seal_now()
    return no_content()


def _status_code(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"bad code value for '{name}': {raw!r}") from None


async def health(request: web.Request) -> web.Response:
    manager = request.app[SEAL_MANAGER]
    status = await manager.status()
    if not status["initialized"]:
        code = _status_code(request, "uninitcode", 501)
    elif status["sealed"]:
        code = _status_code(request, "sealedcode", 503)
    elif manager.standby and not query_flag(request, "standbyok"):
        code = _status_code(request, "standbycode", 429)
    else:
        code = _status_code(request, "activecode", 200)
    body: dict[str, Any] = {
        "initialized": status["initialized"],
        "sealed": status["sealed"],
        "standby": manager.standby,
        "performance_standby": False,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": int(time.time()),
        "version": status["version"],
        "cluster_name": status.get("cluster_name", ""),
        "cluster_id": status.get("cluster_id", ""),
    }
    if "seal_error" in status:
        body["seal_error"] = status["seal_error"]
    if request.method == "HEAD":
        return web.Response(status=code)
    return json_response(body, status=code)


def add_routes(app: web.Application) -> None:
    add_get(app, "/v1/sys/init", read_init, allow_head=False)
    add_route(app, "PUT", "/v1/sys/init", write_init)
    add_route(app, "POST", "/v1/sys/init", write_init)
    add_get(app, "/v1/sys/seal-status", seal_status, allow_head=False)
    add_route(app, "PUT", "/v1/sys/unseal", unseal)
    add_route(app, "POST", "/v1/sys/unseal", unseal)
    add_route(app, "PUT", "/v1/sys/seal", seal)
    add_route(app, "POST", "/v1/sys/seal", seal)
    add_get(app, "/v1/sys/health", health)  # allow_head: HEAD gets the status code alone
