"""The ceiling: a plain aiohttp app answering every /v1 request with a Vault-shaped JSON envelope.

It is served like the daemon (AppRunner + TCPSite, no access log, one process) so that a ratio
daemon / ceiling measures what the daemon adds on top of the framework, not the framework itself.
`--parser py` swaps in aiohttp's pure-Python parser, as sealer/http/list_verb.py once did, to price it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import uuid

from aiohttp import http_parser, web, web_protocol


def envelope() -> dict[str, object]:
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": {"data": {"password": "correct-horse"}, "metadata": {"version": 1, "destroyed": False}},
        "wrap_info": None,
        "warnings": None,
        "auth": None,
        "mount_type": "kv",
    }


async def answer(request: web.Request) -> web.Response:
    await request.read()  # a daemon reads every body; so does its ceiling
    body = json.dumps(envelope(), separators=(",", ":")).encode()
    return web.Response(body=body, headers={"Cache-Control": "no-store", "Content-Type": "application/json"})


def build_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/v1/{path:.*}", answer)
    return app


async def serve(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(build_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print("listening", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parser", choices=("c", "py"), default="c")
    args = parser.parse_args()
    if args.parser == "py":
        web_protocol.HttpRequestParser = http_parser.HttpRequestParserPy  # type: ignore[misc]
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
