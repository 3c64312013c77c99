"""Where every HTTP request enters: one function in front of every route's handler, applying in order

1. request metrics (the time and the status of every /v1/ request, whatever happens below);
2. the bound on requests in progress and Vault's rate limit quotas (sealer/http/limits.py);
3. the error boundary: engine errors, aiohttp's refusals, a client hanging up, an oversized body and any
   unexpected failure become Vault's {"errors": [...]} (sealer/http/errors.py);
4. a standby's forwarding to the active node (sealer/http/forwarding.py);
then the route's handler.

Not an aiohttp middleware at all: every route is registered through `add_route` / `add_get` here, which put
its handler behind the edge. aiohttp runs each middleware as a coroutine of its own, and adds one more of
its own as soon as there is any; on a cached read that machinery cost as much as the read's ACL check. The
last route, a catch-all, answers every path no other route takes with Vault's 404, through the edge too.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.errors import EngineError
from sealer.http.errors import engine_error_response, http_error_response, hung_up_response, unexpected_error_response
from sealer.http.forwarding import forwarded
from sealer.http.limits import IN_FLIGHT, check_quotas, over_concurrency, over_rate_limit, quota_headers, too_large
from sealer.http.metrics import METRICS, request_labels


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    app.router.add_route(method, path, _behind_edge(handler))


def add_get(app: web.Application, path: str, handler: Handler, *, allow_head: bool = True) -> None:
    app.router.add_get(path, _behind_edge(handler), allow_head=allow_head)


def add_not_found(app: web.Application) -> None:
    """The last route: whatever no route above takes (paths outside /v1/) is a 404 in Vault's shape."""
    # [\s\S], not ".": a percent-encoded newline in the path must reach this route too.
    app.router.add_route("*", "/{anything:[\\s\\S]*}", _behind_edge(_not_found))


async def _not_found(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()


def _behind_edge(handler: Handler) -> Handler:
    async def behind_edge(request: web.Request) -> web.StreamResponse:
        return await edge(request, handler)

    return behind_edge


async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app.get(METRICS) if request.path.startswith("/v1/") else None
    started = time.perf_counter()
    status = 500
    try:
        response = await _admitted(request, handler)
        status = response.status
        return response
    except web.HTTPException as exc:  # a redirect, which the error boundary lets through
        status = exc.status
        raise
    finally:
        if metrics is not None:
            mount, operation = request_labels(request)
            metrics.observe(mount, operation, status, time.perf_counter() - started)


async def _admitted(request: web.Request, handler: Handler) -> web.StreamResponse:
    in_flight = request.app.get(IN_FLIGHT)
    if in_flight is not None and in_flight.count >= in_flight.limit:
        return over_concurrency(request, in_flight)
    verdict, headers_on = check_quotas(request)
    if verdict is not None and not verdict.allowed:
        refusal = over_rate_limit(request, verdict)
        if headers_on:
            refusal.headers.update(quota_headers(verdict))
        return refusal
    if in_flight is not None:
        in_flight.count += 1
    try:
        response = await _answered(request, handler)
    finally:
        if in_flight is not None:
            in_flight.count -= 1
    if verdict is not None and headers_on and not response.prepared:
        response.headers.update(quota_headers(verdict))
    return response


async def _answered(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await forwarded(request)
        return response if response is not None else await handler(request)
    except EngineError as exc:
        return engine_error_response(request, exc)
    except web.HTTPRequestEntityTooLarge:
        return too_large(request)
    except web.HTTPException as exc:
        return http_error_response(exc)
    except ConnectionResetError:
        return hung_up_response(request)
    except Exception:
        return unexpected_error_response(request)
