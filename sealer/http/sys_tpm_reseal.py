"""sys/sealer/seal/tpm-reseal: recovery shares re-seal the root key to the TPM in its current boot state
(see sealer/seal_tpm_reseal.py). Unauthenticated like sys/unseal: it must work while sealed, and the
shares are the authorisation. GET shows the attempt in progress, PUT/POST gives one share
({"key": ..., "nonce": ...}; the first share starts the attempt and needs no nonce), DELETE cancels."""

from __future__ import annotations

from aiohttp import web

from engine.errors import BadRequest
from sealer.http.edge import add_get, add_route
from sealer.http.keys import SEAL_MANAGER
from sealer.http.parse import json_body
from sealer.http.responses import json_response
from sealer.seal_tpm_reseal import TpmReseal

TPM_RESEAL = web.AppKey("tpm_reseal", TpmReseal)
PATH = "/v1/sys/sealer/seal/tpm-reseal"


async def read(request: web.Request) -> web.Response:
    return json_response(await request.app[TPM_RESEAL].status())


async def update(request: web.Request) -> web.Response:
    body = await json_body(request)
    unknown = sorted(set(body) - {"key", "nonce"})
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)} (expected key and nonce)")
    key, nonce = body.get("key"), body.get("nonce", "")
    if not isinstance(key, str) or not key:
        raise BadRequest("'key' (a recovery share, hex or base64) must be given as a string")
    if not isinstance(nonce, str):
        raise BadRequest("'nonce' must be a string")
    return json_response(await request.app[TPM_RESEAL].submit(key, nonce))


async def cancel(request: web.Request) -> web.Response:
    return json_response(await request.app[TPM_RESEAL].cancel())


def add_routes(app: web.Application) -> None:
    app[TPM_RESEAL] = TpmReseal(app[SEAL_MANAGER])
    add_get(app, PATH, read, allow_head=False)
    add_route(app, "PUT", PATH, update)
    add_route(app, "POST", PATH, update)
    add_route(app, "DELETE", PATH, cancel)
