"""The listener's request parser (sealer/http/list_verb.py): LIST over llhttp, and every other shape of
request framed exactly as before, over a real aiohttp server and raw sockets, whole, pipelined, and cut
into pieces at every byte."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sealer.http.list_verb import ListAwareParser, accept_list_verb


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"method": request.method, "path": request.path, "body": body.decode()})


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    accept_list_verb()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", _echo)
    async with TestServer(app) as running:
        yield running


def _request(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}{length}\r\n".encode() + body


async def _answers(server: TestServer, pieces: list[bytes], count: int) -> list[dict[str, str]]:
    """Send `pieces` one write each on one connection; read `count` responses."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
        answers = []
        for _ in range(count):
            status_line = await asyncio.wait_for(reader.readline(), 10)
            headers = {}
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers["content-length"]))
            status = status_line.split()[1].decode()
            answers.append({"status": status, **(json.loads(body) if status == "200" else {})})
        return answers
    finally:
        writer.close()


MIXED = [
    _request("GET", "/v1/secret/a"),
    _request("LIST", "/v1/secret/"),
    _request("POST", "/v1/secret/b", b'{"LIST /v1/x HTTP/1.1\\r\\n": 1}'),
    _request("LIST", "/v1/secret/c", b"{}"),
    _request("PUT", "/v1/secret/d", b"LIST /v1/inside-a-body HTTP/1.1\r\n\r\n"),
    _request("DELETE", "/v1/secret/e"),
    _request("LIST", "/v1/secret/f/"),
]
EXPECTED = [("GET", "/v1/secret/a", ""), ("LIST", "/v1/secret/", ""),
            ("POST", "/v1/secret/b", '{"LIST /v1/x HTTP/1.1\\r\\n": 1}'), ("LIST", "/v1/secret/c", "{}"),
            ("PUT", "/v1/secret/d", "LIST /v1/inside-a-body HTTP/1.1\r\n\r\n"), ("DELETE", "/v1/secret/e", ""),
            ("LIST", "/v1/secret/f/", "")]


def _seen(answers: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(a["method"], a["path"], a["body"]) for a in answers]


async def test_list_and_other_methods_one_per_write(server: TestServer) -> None:
    assert _seen(await _answers(server, MIXED, len(MIXED))) == EXPECTED


async def test_pipelined_in_one_write(server: TestServer) -> None:
    assert _seen(await _answers(server, [b"".join(MIXED)], len(MIXED))) == EXPECTED


async def test_cut_at_every_byte(server: TestServer) -> None:
    stream = b"".join(MIXED[:4])
    for cut in range(1, len(stream)):
        answers = await _answers(server, [stream[:cut], stream[cut:]], 4)
        assert _seen(answers) == EXPECTED[:4], f"cut at byte {cut}"


async def test_one_byte_per_write(server: TestServer) -> None:
    stream = b"".join(MIXED[:3])
    assert _seen(await _answers(server, [bytes([b]) for b in stream], 3)) == EXPECTED[:3]


async def test_chunked_body_hands_the_connection_to_the_python_parser(server: TestServer) -> None:
    chunked = (b"POST /v1/secret/g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
    stream = _request("LIST", "/v1/before/") + chunked + _request("LIST", "/v1/after/")
    answers = await _answers(server, [stream], 3)
    assert _seen(answers) == [("LIST", "/v1/before/", ""), ("POST", "/v1/secret/g", "hello"),
                              ("LIST", "/v1/after/", "")]


async def test_a_real_lock_request_is_not_taken_for_a_list(server: TestServer) -> None:
    answers = await _answers(server, [_request("LOCK", "/v1/x"), _request("LIST", "/v1/y/")], 2)
    assert _seen(answers) == [("LOCK", "/v1/x", ""), ("LIST", "/v1/y/", "")]


async def test_unusual_requests_are_parsed_as_before(server: TestServer) -> None:
    # A method llhttp does not know, and a body length llhttp would refuse, both go to the Python parser.
    custom = b"PROPFIND /v1/a HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _seen(await _answers(server, [custom], 1)) == [("PROPFIND", "/v1/a", "")]
    twice = b"POST /v1/b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
    answers = await _answers(server, [twice], 1)
    assert answers[0]["status"] == "400"


async def test_a_header_block_split_in_its_blank_line(server: TestServer) -> None:
    stream = _request("LIST", "/v1/z/")
    blank = stream.index(b"\r\n\r\n")
    for cut in range(blank, blank + 4):
        answers = await _answers(server, [stream[:cut], stream[cut:]], 1)
        assert _seen(answers) == [("LIST", "/v1/z/", "")]


def test_the_listener_uses_the_list_aware_parser() -> None:
    from aiohttp import web_protocol

    accept_list_verb()
    assert web_protocol.HttpRequestParser is ListAwareParser


async def test_a_request_with_bare_lf_line_ends_is_answered_not_left_waiting(server: TestServer) -> None:
    lenient = b"GET /v1/lf HTTP/1.1\nHost: x\n\n"
    answers = await _answers(server, [lenient], 1)
    assert answers[0]["status"] in ("200", "400")  # whatever the Python parser makes of it, an answer
