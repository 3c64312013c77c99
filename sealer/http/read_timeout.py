"""A bound on how long a client may take to send its request body (Vault's listener `http_read_timeout`).

aiohttp calls a handler as soon as the headers are in and waits for the body for as long as the client
likes, so a client that announces a body and never sends it would hold its connection (and whatever the
handler holds) forever. Each handler reads the body through `read_body`, which gives up after the
listener's read timeout, answers 408 and closes the connection instead of waiting for the rest.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from engine.errors import EngineError

# Vault's default http_read_timeout (30s).
DEFAULT_HTTP_READ_TIMEOUT = 30.0
HTTP_READ_TIMEOUT = web.AppKey("http_read_timeout", float)

log = logging.getLogger("sealer.http")


class RequestBodyTimeout(EngineError):
    status = 408
    close_connection = True  # the unread rest of the body would be taken for the next request


async def read_body(request: web.Request) -> bytes:
    """The whole body, or RequestBodyTimeout once the listener's read timeout has passed."""
    if request.content.is_eof():
        return await request.read()  # all of it is in already: nothing to wait for, no timer to set
    seconds = request.app.get(HTTP_READ_TIMEOUT, DEFAULT_HTTP_READ_TIMEOUT)
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        # Stop waiting for the rest: aiohttp would otherwise drain it for up to 10 s after answering. The
        # error closes the connection once the 408 is sent (sealer/http/errors.py: close_connection).
        request.content.feed_eof()
        log.warning("%s %s from %s: the request body did not arrive within %g s; connection closed",
                    request.method, request.path, request.remote, seconds)
        raise RequestBodyTimeout(
            f"the request body did not arrive within {seconds:g} s (listener http_read_timeout)"
        ) from None
