"""Vault-shaped HTTP responses."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

# Vault marks every API response as not cacheable: they carry secrets.
_HEADERS = {"Cache-Control": "no-store"}


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=_HEADERS,
    )


def error_response(status: int, messages: list[str]) -> web.Response:
    return json_response({"errors": messages}, status=status)


def no_content() -> web.Response:
    return web.Response(status=204, headers=_HEADERS)
