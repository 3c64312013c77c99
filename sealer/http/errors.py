"""The one place where failures become HTTP responses."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.errors import EngineError
from sealer.http.responses import error_response

log = logging.getLogger("sealer.http")


@web.middleware
async def engine_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except EngineError as exc:
        if exc.status >= 500:
            log.error("%s %s failed: %s", request.method, request.path, exc.message)
        # Vault answers a missing secret with an empty error list.
        response = error_response(exc.status, [exc.message] if exc.message else [])
        if getattr(exc, "close_connection", False):
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, [exc.reason])
    except ConnectionResetError:
        # The client hung up while sending its request: nothing failed here and nobody is left to answer.
        log.info("%s %s: the client closed the connection before its request was complete", request.method,
                 request.path)
        response = error_response(400, ["the client closed the connection before its request was complete"])
        response.force_close()
        return response
    except Exception:
        log.exception("%s %s: unexpected error", request.method, request.path)
        return error_response(500, ["internal error; see the server log"])
