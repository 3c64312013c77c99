"""Typed keys for what the HTTP layer keeps on its aiohttp application."""

from __future__ import annotations

from aiohttp import web

from sealer.ha import HaCoordinator
from sealer.seal_manager import SealManager

SEAL_MANAGER = web.AppKey("seal_manager", SealManager)
# Only with a storage shared by several daemons (HA): who is active.
HA_COORDINATOR = web.AppKey("ha_coordinator", HaCoordinator)
