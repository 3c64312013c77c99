"""Vault's HA endpoints: sys/leader (unauthenticated, sealed or not), sys/ha-status and sys/step-down
(root token; served by the active node, where a standby forwards them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from sealer.http.edge import add_get, add_route
from sealer.http.keys import HA_COORDINATOR, SEAL_MANAGER
from sealer.http.responses import json_response, no_content
from sealer.http.sys_seal_admin import root_only

_NEVER = "0001-01-01T00:00:00Z"


def _rfc3339(moment: datetime | None) -> str:
    return _NEVER if moment is None else moment.isoformat().replace("+00:00", "Z")


async def leader(request: web.Request) -> web.Response:
    ha = request.app.get(HA_COORDINATOR)
    body: dict[str, Any] = {
        "ha_enabled": ha is not None,
        "is_self": False,
        "active_time": _NEVER,
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": False,
        "performance_standby_last_remote_wal": 0,
    }
    if ha is None or request.app[SEAL_MANAGER].sealed:
        return json_response(body)
    node = await ha.leader()
    if node is not None:
        body.update(is_self=node.node_id == ha.node_id, active_time=_rfc3339(node.active_since),
                    leader_address=node.api_addr)
    return json_response(body)


async def ha_status(request: web.Request) -> web.Response:
    await root_only(request)
    ha = request.app.get(HA_COORDINATOR)
    nodes = [] if ha is None else await ha.nodes()
    return json_response({"nodes": [
        {"hostname": node.hostname, "api_address": node.api_addr, "cluster_address": "",
         "active_node": node.active, "last_echo": None if node.active else _rfc3339(node.last_echo)}
        for node in nodes
    ]})


async def step_down(request: web.Request) -> web.Response:
    await root_only(request)
    ha = request.app.get(HA_COORDINATOR)
    if ha is not None:
        ha.step_down()
    return no_content()


def add_routes(app: web.Application) -> None:
    add_get(app, "/v1/sys/leader", leader, allow_head=False)
    add_get(app, "/v1/sys/ha-status", ha_status, allow_head=False)
    add_route(app, "PUT", "/v1/sys/step-down", step_down)
    add_route(app, "POST", "/v1/sys/step-down", step_down)
