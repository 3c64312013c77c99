"""Limits a public listener needs (sealer/http/edge.py applies them to every request):

- a bound on requests in progress (the listener's max_concurrent_requests): one over it is refused at
  once with a 503 rather than queued, so a flood of slow clients cannot pile up work without end;
- Vault's rate limit quotas (engine/quotas.py), counted before the request reaches the core: a 429
  with Vault's message, Retry-After, and X-Ratelimit-* headers when sys/quotas/config asks for them;
- the body size cap (the listener's max_request_size, enforced by aiohttp while reading): a 413 that
  says what the cap is.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from aiohttp import web

from engine.errors import BadRequest, EngineError
from engine.policy import normalize_request_path
from engine.quotas import Verdict
from sealer.http.keys import SEAL_MANAGER
from sealer.http.metrics import METRICS
from sealer.http.responses import error_response


@dataclass
class InFlight:
    """Requests in progress right now, against the bound. A plain count is enough: every request is
    admitted or refused on the event loop's one thread."""

    limit: int
    count: int = 0


IN_FLIGHT = web.AppKey("in_flight", InFlight)
MAX_REQUEST_SIZE = web.AppKey("max_request_size", int)


def _refused(request: web.Request, reason: str) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.refused.labels(reason).inc()


def over_concurrency(request: web.Request, in_flight: InFlight) -> web.Response:
    _refused(request, "concurrency")
    return error_response(503, [f"too many requests in progress: this listener serves at most "
                                f"{in_flight.limit} at once (max_concurrent_requests); retry shortly"])


def over_rate_limit(request: web.Request, verdict: Verdict) -> web.Response:
    _refused(request, "rate_limit")
    response = error_response(429, [f'request path "{verdict.path}": rate limit quota exceeded'])
    response.headers["Retry-After"] = str(_seconds_until(verdict.reset))
    return response


def check_quotas(request: web.Request) -> tuple[Verdict | None, bool]:
    """The verdict of the rule that applies (None: none, or nothing to enforce on this node now: sealed,
    a standby, not an API path) and whether the X-Ratelimit-* headers are on."""
    manager = request.app[SEAL_MANAGER]
    if not request.path.startswith("/v1/") or manager.sealed or manager.standby:
        return None, False
    try:
        quotas = manager.active_core().quotas
        if not quotas.has_rules:  # the common case, at the cost of one attribute read
            return None, False
        path = normalize_request_path(request.path.removeprefix("/v1/"))
    except (EngineError, BadRequest):  # sealed meanwhile, or a path the handler will refuse anyway
        return None, False
    return quotas.check(path, request.remote or ""), quotas.config.enable_rate_limit_response_headers


def quota_headers(verdict: Verdict) -> dict[str, str]:
    return {
        "X-Ratelimit-Limit": str(verdict.limit),
        "X-Ratelimit-Remaining": str(verdict.remaining),
        "X-Ratelimit-Reset": str(_seconds_until(verdict.reset)),
    }


def _seconds_until(unix_time: float) -> int:
    return max(0, math.ceil(unix_time - time.time()))


def too_large(request: web.Request) -> web.Response:
    _refused(request, "body_size")
    cap = request.app.get(MAX_REQUEST_SIZE, request.client_max_size)
    return error_response(413, [f"request body too large: this listener accepts at most {cap} bytes "
                                f"(max_request_size)"])


def install_limits(app: web.Application, *, max_concurrent_requests: int, max_request_size: int) -> None:
    app[IN_FLIGHT] = InFlight(max_concurrent_requests)
    app[MAX_REQUEST_SIZE] = max_request_size
