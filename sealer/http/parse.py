"""Turning an HTTP request into an engine Request: the only place that knows how Vault maps them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from engine.errors import BadRequest, UnsupportedOperation
from engine.framework import parse_duration
from engine.request import Op, Request
from sealer.http.read_timeout import read_body

_METHOD_OPS = {
    "GET": Op.READ,
    "HEAD": Op.READ,
    "POST": Op.UPDATE,
    "PUT": Op.UPDATE,
    "DELETE": Op.DELETE,
    "LIST": Op.LIST,
    "PATCH": Op.PATCH,
}
_TRUE = {"true", "1", "t", "yes"}
WRAP_TTL_HEADER = "X-Vault-Wrap-TTL"


def client_token(request: web.Request) -> str | None:
    token = request.headers.get("X-Vault-Token")
    if token:
        return token.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object, as in Vault."""
    raw = await read_body(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"failed to parse JSON input: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"failed to parse JSON input: expected a JSON object, got {type(body).__name__}")
    return body


def wrap_ttl(request: web.Request) -> int:
    """Vault's X-Vault-Wrap-TTL: seconds ("300") or a duration ("5m"); 0 when absent."""
    raw = request.headers.get(WRAP_TTL_HEADER, "").strip()
    if not raw:
        return 0
    if raw.startswith("-"):
        raise BadRequest(f"error parsing {WRAP_TTL_HEADER} header: requested wrap ttl cannot be negative")
    try:
        return parse_duration(raw)
    except ValueError:
        raise BadRequest(f'error parsing {WRAP_TTL_HEADER} header: time: invalid duration "{raw}"') from None


def query_flag(request: web.Request, name: str) -> bool:
    if not request.rel_url.raw_query_string:
        return False
    value = request.query.get(name)
    return value is not None and (value == "" or value.lower() in _TRUE)


async def engine_request(request: web.Request, path: str) -> Request:
    op = _METHOD_OPS.get(request.method)
    if op is None:
        raise UnsupportedOperation(f"unsupported HTTP method {request.method}")
    if op is Op.READ and query_flag(request, "list"):
        op = Op.LIST
    if op in (Op.READ, Op.LIST, Op.DELETE):
        # Vault passes query parameters as request data for reads and lists.
        data: dict[str, Any] = (
            {k: v for k, v in request.query.items() if k != "list"} if request.rel_url.raw_query_string else {}
        )
        if op is Op.DELETE:
            data.update(await json_body(request))
    else:
        data = await json_body(request)
    peer = request.remote or ""
    return Request(
        op=op,
        path=path,
        data=data,
        client_token=client_token(request),
        remote_address=peer,
        wrap_ttl=wrap_ttl(request),
    )
