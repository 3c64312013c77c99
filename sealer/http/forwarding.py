"""A standby's requests: forwarded to the active node (the default), or answered with a 307 to it.

A standby has no core loaded, so it answers only what describes the node itself (health, seal status,
leader, unseal/init); everything else goes to the active node found through the HA lock. A request is
forwarded at most once: one that arrives already forwarded at a node that is not active (the active
changed meanwhile) gets a 503 rather than a loop.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from engine.errors import StorageError
from engine.storage.postgresql_ha import Node
from sealer.ha import HaCoordinator
from sealer.http.keys import SEAL_MANAGER
from sealer.http.read_timeout import read_body
from sealer.http.responses import error_response

LOCAL_ON_STANDBY = frozenset({
    "/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/leader", "/v1/sys/init", "/v1/sys/unseal",
})
FORWARDED_HEADER = "X-Sealer-Forwarded"
NO_FORWARDING_HEADER = "X-Vault-No-Request-Forwarding"  # as Vault: the client asks for a redirect instead
# Hop-by-hop and recomputed headers that must not be copied across the proxy.
_NOT_COPIED = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade",
                         "te", "trailer", "proxy-authorization", "proxy-connection"})
_FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=5)


class Forwarder:
    """The standby's client to the active node: one connection pool, made on first use, closed with the app."""

    def __init__(self, ha: HaCoordinator, *, forward: bool) -> None:
        self.ha = ha
        self.forward = forward
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=_FORWARD_TIMEOUT, auto_decompress=False)
        return self._session

    async def close(self, app: web.Application | None = None) -> None:
        if self._session is not None:
            await self._session.close()

    async def leader(self) -> Node | None:
        try:
            return await self.ha.leader()
        except StorageError:  # PostgreSQL unreachable: the caller answers "no active node"
            return None


FORWARDER = web.AppKey("forwarder", Forwarder)


async def forwarded(request: web.Request) -> web.StreamResponse | None:
    """The answer for a request a standby must not serve itself (forwarded, redirected with a raised 307,
    or refused); None when this node serves it."""
    forwarder = request.app.get(FORWARDER)
    if forwarder is None or not request.app[SEAL_MANAGER].standby or request.path in LOCAL_ON_STANDBY:
        return None
    if request.headers.get(FORWARDED_HEADER):
        return error_response(503, ["this node is a standby and the request was already forwarded once: "
                                    "the active node changed meanwhile; retry"])
    leader = await forwarder.leader()
    if leader is None or leader.node_id == forwarder.ha.node_id:
        return error_response(503, ["this node is a standby and no node holds the HA lock right now "
                                    "(is PostgreSQL reachable?); retry shortly"])
    target = leader.api_addr.rstrip("/") + request.path_qs
    if not forwarder.forward or request.headers.get(NO_FORWARDING_HEADER, "").lower() in ("1", "true"):
        raise web.HTTPTemporaryRedirect(target)
    return await _forward(request, forwarder.session(), target)


async def _forward(request: web.Request, session: aiohttp.ClientSession, target: str) -> web.StreamResponse:
    headers = {name: value for name, value in request.headers.items() if name.lower() not in _NOT_COPIED}
    headers[FORWARDED_HEADER] = "1"
    body = await read_body(request)
    try:
        async with session.request(
            request.method, target, headers=headers, data=body or None, allow_redirects=False
        ) as upstream:
            payload = await upstream.read()
            copied = {name: value for name, value in upstream.headers.items() if name.lower() not in _NOT_COPIED}
            return web.Response(status=upstream.status, body=payload, headers=copied)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return error_response(503, [f"this node is a standby and forwarding to the active node at "
                                    f"{target.split('/v1/')[0]} failed: {exc or type(exc).__name__}"])
