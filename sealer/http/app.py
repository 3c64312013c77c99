"""The HTTP edge: Vault's /v1 API on aiohttp. Everything behind it speaks engine Requests."""

from __future__ import annotations

from aiohttp import web

from engine.request import BytesResponse, Op
from sealer.config import ListenerConfig
from sealer.ha import HaCoordinator
from sealer.http import openapi_extra, sys_ceremonies, sys_ha, sys_seal, sys_seal_admin, sys_tpm_reseal
from sealer.http.edge import add_get, add_not_found, add_route
from sealer.http.forwarding import FORWARDER, Forwarder
from sealer.http.keys import HA_COORDINATOR, SEAL_MANAGER
from sealer.http.limits import install_limits
from sealer.http.list_verb import accept_list_verb
from sealer.http.metrics import ENGINE_REQUEST, install_metrics, sys_metrics
from sealer.http.parse import engine_request
from sealer.http.responses import error_response, json_response, no_content, raw_response
from sealer.metrics import Metrics
from sealer.seal_manager import SealManager


async def logical(request: web.Request) -> web.StreamResponse:
    manager = request.app[SEAL_MANAGER]
    engine_req = await engine_request(request, request.match_info["path"])
    request[ENGINE_REQUEST] = engine_req  # its mount, once routed, labels the request's metrics
    if not await manager.initialized():
        return error_response(503, ["Vault is not initialized; initialize it with sys/init (sealer operator init)"])
    response = await manager.active_core().handle(engine_req)
    if response is None:
        if engine_req.op in (Op.READ, Op.LIST):
            return error_response(404, [])
        return no_content()
    if isinstance(response, BytesResponse):
        return raw_response(response.body, response.content_type, response.status or 200)
    nothing_to_say = (
        response.data is None
        and response.auth is None
        and not response.warnings
        and not response.lease_id
        and response.status is None
    )
    if response.status == 204 or (nothing_to_say and engine_req.op not in (Op.READ, Op.LIST)):
        return no_content()
    return json_response(response.envelope(engine_req.id, engine_req.mount_type), status=response.status or 200)


def build_app(manager: SealManager, ha: HaCoordinator | None = None, *, forward: bool = True,
              listener: ListenerConfig | None = None) -> web.Application:
    """`ha`: set when several daemons share the storage; a standby then forwards requests to the active
    node (`forward`), or answers with a 307 to it."""
    accept_list_verb()
    listener = listener or ListenerConfig()
    # A negative max_request_size turns the cap off, as in Vault.
    max_size = listener.max_request_size if listener.max_request_size > 0 else 2**63
    app = web.Application(client_max_size=max_size)
    install_limits(app, max_concurrent_requests=listener.max_concurrent_requests, max_request_size=max_size)
    install_metrics(app, Metrics(manager), unauthenticated=listener.unauthenticated_metrics_access)
    add_get(app, "/v1/sys/metrics", sys_metrics)
    app[SEAL_MANAGER] = manager
    if ha is not None:
        forwarder = Forwarder(ha, forward=forward)
        app[HA_COORDINATOR] = ha
        app[FORWARDER] = forwarder
        app.on_cleanup.append(forwarder.close)
    sys_seal.add_routes(app)
    sys_ha.add_routes(app)
    sys_ceremonies.add_routes(app)
    sys_seal_admin.add_routes(app)
    sys_tpm_reseal.add_routes(app)
    openapi_extra.add_routes(app, logical)
    add_route(app, "*", "/v1/{path:.*}", logical)
    add_not_found(app)
    return app
