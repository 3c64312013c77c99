"""Typed keys for what the HTTP layer keeps on its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from sealer.seal_manager import SealManager

SEAL_MANAGER = web.AppKey("seal_manager", SealManager)
