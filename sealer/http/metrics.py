"""Counting requests at the HTTP edge, and serving GET /v1/sys/metrics.

A request is labelled with the mount the core routed it to (known once the core has seen it: the
engine Request the logical handler leaves on the aiohttp request) and its operation. Requests the
core never routed (the daemon's own sys/ endpoints, refused tokens, unknown paths) count under the
mount "sys/" when under /v1/sys/, else "": the labels stay a small, bounded set.

sys/metrics needs a token allowed to read sys/metrics (checked, and audited, by the core like any
request), so it answers only while unsealed; with the listener's unauthenticated_metrics_access it
needs none and answers while sealed too (the seal gauges then say so), as Vault does.
"""

from __future__ import annotations

from aiohttp import web

from engine.backends.sys_metrics import FORMATS
from engine.errors import BadRequest
from engine.request import Request as EngineRequest
from sealer.http.keys import SEAL_MANAGER
from sealer.http.parse import engine_request
from sealer.metrics import CONTENT_TYPE, Metrics

METRICS = web.AppKey("metrics", Metrics)
UNAUTHENTICATED_METRICS = web.AppKey("unauthenticated_metrics", bool)
# Set by the logical handler: the engine's view of this request (its mount once routed).
ENGINE_REQUEST = web.RequestKey("engine_request", EngineRequest)

_METHOD_OPERATIONS = {"GET": "read", "HEAD": "read", "POST": "update", "PUT": "update", "DELETE": "delete",
                      "LIST": "list", "PATCH": "patch"}


def request_labels(request: web.Request) -> tuple[str, str]:
    engine_req = request.get(ENGINE_REQUEST)
    if engine_req is not None and engine_req.mount_point:
        return engine_req.mount_point, engine_req.op.value
    mount = "sys/" if request.path.startswith("/v1/sys/") else ""
    operation = _METHOD_OPERATIONS.get(request.method, "other")
    if operation == "read" and "list" in request.query:
        operation = "list"
    return mount, operation


async def sys_metrics(request: web.Request) -> web.StreamResponse:
    metrics = request.app[METRICS]
    fmt = request.query.get("format", "").lower()
    if fmt not in FORMATS:
        raise BadRequest(f'metrics format "{fmt}" is not served here: use format=prometheus (or leave it out)')
    if not request.app.get(UNAUTHENTICATED_METRICS, False):
        # The core checks the token and the ACL (a read of sys/metrics) and audits the scrape.
        engine_req = await engine_request(request, "sys/metrics")
        request[ENGINE_REQUEST] = engine_req
        await request.app[SEAL_MANAGER].active_core().handle(engine_req)
    return web.Response(body=await metrics.render(), headers={"Content-Type": CONTENT_TYPE,
                                                              "Cache-Control": "no-store"})


def install_metrics(app: web.Application, metrics: Metrics, *, unauthenticated: bool) -> None:
    """What sys_metrics (the handler of GET /v1/sys/metrics, routed by the app) reads."""
    app[METRICS] = metrics
    app[UNAUTHENTICATED_METRICS] = unauthenticated
