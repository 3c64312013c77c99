"""Vault's LIST verb over aiohttp.

aiohttp's C parser (llhttp) refuses request methods outside its built-in list, and LIST is not on it,
so `hvac` and `curl -X LIST` would get a 400 before any handler runs. aiohttp's pure-Python parser
accepts any RFC 9110 method token; the listener uses it instead. This is process-wide by nature:
aiohttp picks the parser class from a module global when a connection opens.
"""

from __future__ import annotations

from aiohttp import http_parser, web_protocol


def accept_list_verb() -> None:
    web_protocol.HttpRequestParser = http_parser.HttpRequestParserPy  # type: ignore[misc]
