"""How failures become HTTP responses (sealer/http/edge.py catches them, in one place)."""

from __future__ import annotations

import logging

from aiohttp import web

from engine.errors import EngineError
from sealer.http.responses import error_response

log = logging.getLogger("sealer.http")


def engine_error_response(request: web.Request, exc: EngineError) -> web.Response:
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.path, exc.message)
    # Vault answers a missing secret with an empty error list.
    response = error_response(exc.status, [exc.message] if exc.message else [])
    if getattr(exc, "close_connection", False):
        response.force_close()
    return response


def http_error_response(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (405, 404 outside /v1/, ...) in Vault's shape; redirects are re-raised."""
    if exc.status < 400:
        raise exc
    return error_response(exc.status, [exc.reason])


def hung_up_response(request: web.Request) -> web.Response:
    # The client hung up while sending its request: nothing failed here and nobody is left to answer.
    log.info("%s %s: the client closed the connection before its request was complete", request.method,
             request.path)
    response = error_response(400, ["the client closed the connection before its request was complete"])
    response.force_close()
    return response


def unexpected_error_response(request: web.Request) -> web.Response:
    log.exception("%s %s: unexpected error", request.method, request.path)
    return error_response(500, ["internal error; see the server log"])
