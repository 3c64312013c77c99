"""Vault-shaped HTTP responses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.json_bytes import compact_json

# Vault marks every API response as not cacheable: they carry secrets.
_HEADERS = {"Cache-Control": "no-store"}
# Exactly Vault's header, without aiohttp's "; charset=utf-8": hvac parses an error body (its "errors",
# and the metadata of a deleted KV v2 version) only when the Content-Type is exactly this.
_JSON_HEADERS = {**_HEADERS, "Content-Type": "application/json"}


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=compact_json(body), status=status, headers=_JSON_HEADERS)


def error_response(status: int, messages: list[str]) -> web.Response:
    return json_response({"errors": messages}, status=status)


def no_content() -> web.Response:
    return web.Response(status=204, headers=_HEADERS)


def raw_response(body: bytes, content_type: str, status: int = 200) -> web.Response:
    """A backend's own body (a certificate, a CRL), sent as it is."""
    return web.Response(body=body, status=status, headers={**_HEADERS, "Content-Type": content_type})
