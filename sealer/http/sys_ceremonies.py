"""The key holders' ceremonies over HTTP, Vault's unauthenticated sys endpoints: sys/rekey/*,
sys/rekey-recovery-key/* and sys/generate-root/*. They drive the seal, not the engine, so they live
beside sys/unseal rather than behind the barrier. (sys/rekey/backup and sys/rekey/recovery-key-backup
need a root token, as in Vault.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from engine.errors import BadRequest, PermissionDenied
from sealer.ceremonies.registry import Ceremonies
from sealer.ceremonies.rekey import Rekey, RekeyRequest, Target
from sealer.http.edge import add_route
from sealer.http.keys import SEAL_MANAGER
from sealer.http.parse import client_token, json_body
from sealer.http.responses import json_response, no_content
from sealer.shares import decode_share

CEREMONIES = web.AppKey("ceremonies", Ceremonies)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to parse JSON input: '{name}' must be an integer, got {value!r}")
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"failed to parse JSON input: '{name}' must be a boolean, got {value!r}")
    return value


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"failed to parse JSON input: '{name}' must be a string")
    return value


def _strings(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"failed to parse JSON input: '{name}' must be a list of strings")
    return tuple(value)


async def _share(request: web.Request) -> tuple[bytes, str]:
    """The (decoded share, nonce) of an update request."""
    body = await json_body(request)
    key = _str(body, "key")
    if not key:
        raise BadRequest("'key' must be specified in request body as JSON")
    return decode_share(key), _str(body, "nonce")


def _ceremonies(request: web.Request) -> Ceremonies:
    return request.app[CEREMONIES]


# -- sys/rekey and sys/rekey-recovery-key ----------------------------------------------------------


def _rekey_handlers(target: Target) -> dict[str, Handler]:
    async def read_init(request: web.Request) -> web.Response:
        return json_response(await _ceremonies(request).rekey_for(target).status())

    async def write_init(request: web.Request) -> web.Response:
        body = await json_body(request)
        rekey_request = RekeyRequest(
            secret_shares=_int(body, "secret_shares"),
            secret_threshold=_int(body, "secret_threshold"),
            pgp_keys=_strings(body, "pgp_keys"),
            backup=_bool(body, "backup"),
            require_verification=_bool(body, "require_verification"),
        )
        return json_response(await _ceremonies(request).rekey_for(target).start(rekey_request))

    async def delete_init(request: web.Request) -> web.Response:
        await _ceremonies(request).rekey_for(target).cancel()
        return no_content()

    async def update(request: web.Request) -> web.Response:
        share, nonce = await _share(request)
        return json_response(await _ceremonies(request).rekey_for(target).update(share, nonce))

    async def read_verify(request: web.Request) -> web.Response:
        return json_response(await _ceremonies(request).rekey_for(target).verification_status())

    async def write_verify(request: web.Request) -> web.Response:
        share, nonce = await _share(request)
        return json_response(await _ceremonies(request).rekey_for(target).verify(share, nonce))

    async def delete_verify(request: web.Request) -> web.Response:
        return json_response(await _ceremonies(request).rekey_for(target).restart_verification())

    async def read_backup(request: web.Request) -> web.Response:
        rekey = await _root_only(request, target)
        backup = await rekey.backups.read()
        if backup is None:
            raise BadRequest("no backed-up keys found")
        return json_response(_envelope(backup))

    async def delete_backup(request: web.Request) -> web.Response:
        rekey = await _root_only(request, target)
        await rekey.backups.delete()
        return no_content()

    return {
        "read_init": read_init, "write_init": write_init, "delete_init": delete_init, "update": update,
        "read_verify": read_verify, "write_verify": write_verify, "delete_verify": delete_verify,
        "read_backup": read_backup, "delete_backup": delete_backup,
    }


async def _root_only(request: web.Request, target: Target) -> Rekey:
    core = request.app[SEAL_MANAGER].active_core()
    token = client_token(request)
    if not token or not await core.is_root_token(token):
        raise PermissionDenied()
    return _ceremonies(request).rekey_for(target)


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    # A sys/ answer from Vault's system backend: the data both enveloped and at the top level.
    return {**data, "request_id": "", "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": None, "warnings": None, "auth": None}


# -- sys/generate-root -----------------------------------------------------------------------------


async def read_attempt(request: web.Request) -> web.Response:
    return json_response(await _ceremonies(request).generate_root.status())


async def write_attempt(request: web.Request) -> web.Response:
    body = await json_body(request)
    return json_response(await _ceremonies(request).generate_root.start(_str(body, "otp"), _str(body, "pgp_key")))


async def delete_attempt(request: web.Request) -> web.Response:
    await _ceremonies(request).generate_root.cancel()
    return no_content()


async def generate_root_update(request: web.Request) -> web.Response:
    share, nonce = await _share(request)
    return json_response(await _ceremonies(request).generate_root.update(share, nonce))


# -- wiring ------------------------------------------------------------------------------------


async def _discard_on_seal(app: web.Application) -> AsyncIterator[None]:
    # Owned by the application's lifetime: started with it, cancelled and awaited when it stops.
    task = asyncio.create_task(app[CEREMONIES].discard_on_seal())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _add(app: web.Application, path: str, **methods: Handler) -> None:
    for method, handler in methods.items():
        add_route(app, method.upper(), path, handler)


def add_routes(app: web.Application) -> None:
    app[CEREMONIES] = Ceremonies(app[SEAL_MANAGER])
    app.cleanup_ctx.append(_discard_on_seal)
    for prefix, target in (("rekey", Target.BARRIER), ("rekey-recovery-key", Target.RECOVERY)):
        h = _rekey_handlers(target)
        _add(app, f"/v1/sys/{prefix}/init", get=h["read_init"], put=h["write_init"], post=h["write_init"],
             delete=h["delete_init"])
        _add(app, f"/v1/sys/{prefix}/update", put=h["update"], post=h["update"])
        _add(app, f"/v1/sys/{prefix}/verify", get=h["read_verify"], put=h["write_verify"], post=h["write_verify"],
             delete=h["delete_verify"])
    for path, target in (("rekey/backup", Target.BARRIER), ("rekey/recovery-key-backup", Target.RECOVERY)):
        h = _rekey_handlers(target)
        _add(app, f"/v1/sys/{path}", get=h["read_backup"], delete=h["delete_backup"])
    _add(app, "/v1/sys/generate-root/attempt", get=read_attempt, put=write_attempt, post=write_attempt,
         delete=delete_attempt)
    _add(app, "/v1/sys/generate-root/update", put=generate_root_update, post=generate_root_update)
