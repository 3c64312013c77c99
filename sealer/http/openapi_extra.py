"""The daemon's own HTTP endpoints (sys/init, sys/unseal, sys/health, the rekey and generate-root
ceremonies, ...) added to the OpenAPI document the engine serves at sys/internal/specs/openapi.

They work while sealed, so they live in the HTTP layer and the engine cannot see them. They are read
from the aiohttp router itself when the document is served, so the document lists exactly what is
routed; the table below adds only what a route cannot say: a summary and Vault's access flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.openapi import responses
from sealer.http.edge import add_route
from sealer.http.responses import json_response

SPEC_ROUTE = "/v1/sys/internal/specs/openapi"
_PREFIX = "/v1"


@dataclass(frozen=True)
class About:
    summary: str
    unauthenticated: bool = True  # as in Vault: these work without a token, most while sealed
    sudo: bool = False
    # Statuses a success may carry besides 200, with Vault's meaning.
    statuses: tuple[tuple[str, str], ...] = ()
    media_type: str = "application/json"


_CEREMONY = "Rekey or generate-root ceremony step."
ABOUT: dict[str, About] = {
    "/sys/init": About("Initialise the daemon, or read whether it is."),
    "/sys/seal-status": About("Seal state and unseal progress."),
    "/sys/unseal": About("Submit one unseal key share."),
    "/sys/seal": About("Seal the daemon.", unauthenticated=False, sudo=True),
    "/sys/health": About(
        "Health: the status code tells the state.",
        statuses=(("429", "Unsealed standby"), ("501", "Not initialised"), ("503", "Sealed")),
    ),
    "/sys/leader": About("The HA leader and this node's role."),
    "/sys/ha-status": About("The nodes of an HA cluster.", unauthenticated=False),
    "/sys/step-down": About("Give up the active role.", unauthenticated=False, sudo=True),
    "/sys/metrics": About("The daemon's metrics in Prometheus' text format.", unauthenticated=False,
                          media_type="text/plain"),
}
_SEAL_ADMIN = About("Sealer's seal administration.", unauthenticated=False, sudo=True)
_OTHER = About("Served by the daemon's HTTP layer.", unauthenticated=False)


def about(path: str) -> About:
    if path in ABOUT:
        return ABOUT[path]
    if path.startswith(("/sys/rekey", "/sys/generate-root")):
        return About(_CEREMONY)
    if path.startswith("/sys/sealer/"):
        return _SEAL_ADMIN
    return _OTHER


def http_path_items(app: web.Application) -> dict[str, dict[str, Any]]:
    """Path items for every explicit /v1 route (all but the catch-all that reaches the engine)."""
    items: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if not canonical.startswith(_PREFIX + "/") or "{path" in canonical:
            continue
        method = route.method.lower()
        if method in ("head", "*"):
            continue
        path = canonical[len(_PREFIX) :]
        item = items.setdefault(path, _path_level(path))
        item[method] = _operation(path, method)
    return items


def _path_level(path: str) -> dict[str, Any]:
    item: dict[str, Any] = {"summary": about(path).summary}
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    if names:
        item["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names
        ]
    return item


def _operation(path: str, method: str) -> dict[str, Any]:
    info = about(path)
    body = {"type": "object"} if info.media_type == "application/json" else {"type": "string"}
    raw = {info.media_type: {"schema": body}}
    answers = responses(success=raw)
    for status, text in info.statuses:
        answers[status] = {"description": text, "content": raw}
    operation: dict[str, Any] = {
        "operationId": f"http-{method}-" + path.strip("/").replace("/", "-").replace("{", "").replace("}", ""),
        "tags": ["system"],
        "responses": answers,
    }
    if info.unauthenticated:
        operation["x-vault-unauthenticated"] = True
        operation["security"] = []
    if info.sudo:
        operation["x-vault-sudo"] = True
    if method in ("post", "put", "patch"):
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
    return operation


def add_routes(app: web.Application, logical: Handler) -> None:
    """Serve the engine's document through the usual pipeline (token, audit), then add these routes."""

    async def specs(request: web.Request) -> web.StreamResponse:
        answer = await logical(request)
        if answer.status != 200 or not isinstance(answer, web.Response) or answer.body is None:
            return answer
        document = json.loads(answer.body)  # type: ignore[arg-type]
        paths = document.setdefault("paths", {})
        for path, item in http_path_items(request.app).items():
            # A route the engine describes too (sys/metrics, counted at the edge) keeps the engine's detail.
            paths[path] = {**item, **paths.get(path, {})}
        document["paths"] = dict(sorted(document["paths"].items()))
        return json_response(document)

    # Named {path} as the catch-all's, so the logical handler finds the engine path where it looks.
    route = _PREFIX + "/{path:" + SPEC_ROUTE.removeprefix(_PREFIX + "/") + "}"
    for method in ("GET", "POST", "PUT"):  # Vault answers a write the same as a read
        add_route(app, method, route, specs)
