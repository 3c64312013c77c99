"""The open connection (plugin instance) for each connection config of one mount, made on first use and
closed whenever its config changes, is deleted or reset, on unmount and before sealing (Vault's
backend.connections)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from engine.backends.database.postgresql import PLUGIN_NAME, DatabaseError, PostgresDatabase
from engine.backends.database.records import CONFIGS, ConnectionConfig
from engine.errors import BadRequest, EngineError
from engine.storage.base import Storage

PLUGINS: dict[str, Callable[[Mapping[str, Any]], PostgresDatabase]] = {PLUGIN_NAME: PostgresDatabase}


def make_database(config: ConnectionConfig) -> PostgresDatabase:
    plugin = PLUGINS.get(config.plugin_name)
    if plugin is None:
        offered = ", ".join(sorted(PLUGINS))
        raise BadRequest(f'unknown plugin "{config.plugin_name}": this server offers {offered}')
    return plugin(config.connection_details)


class Connections:
    def __init__(self) -> None:
        self._open: dict[str, PostgresDatabase] = {}
        self._lock = asyncio.Lock()
        # Held by rotate-root from its pending write to its final one, and by the settling of a
        # pending rotation: settling must never overwrite a rotation that is still going on.
        self.root_rotation = asyncio.Lock()

    async def config(self, storage: Storage, name: str) -> ConnectionConfig:
        config = await CONFIGS.get(storage, name)
        if config is None:
            raise EngineError(f'failed to find entry for connection with name: "{name}"')
        return config

    async def get(self, storage: Storage, name: str) -> tuple[ConnectionConfig, PostgresDatabase]:
        config = await self.config(storage, name)
        if config.pending_root_password:
            async with self.root_rotation:
                config = await self.config(storage, name)  # as the rotation we waited for left it
                if config.pending_root_password:
                    config = await self._settle_root_rotation(storage, name, config)
        async with self._lock:
            database = self._open.get(name)
            if database is None:
                database = self._open[name] = make_database(config)
        return config, database

    async def _settle_root_rotation(self, storage: Storage, name: str, config: ConnectionConfig) -> ConnectionConfig:
        """A root rotation stopped between PostgreSQL and storage: keep the new password if PostgreSQL
        takes it, else the old one. While PostgreSQL cannot say (down), the rotation stays pending."""
        rotated = replace(
            config,
            connection_details={**config.connection_details, "password": config.pending_root_password},
            pending_root_password="",
        )
        probe = make_database(rotated)
        try:
            await probe.verify()
            settled = rotated
        except DatabaseError as exc:
            if not exc.refused_login:
                raise
            settled = replace(config, pending_root_password="")
        finally:
            await probe.close()
        await CONFIGS.put(storage, name, settled)
        await self.replace(name, None)
        return settled

    async def replace(self, name: str, database: PostgresDatabase | None) -> None:
        """Adopt `database` for `name` (None: forget it), closing the one open before."""
        async with self._lock:
            old = self._open.pop(name, None)
            if database is not None:
                self._open[name] = database
        if old is not None and old is not database:
            await old.close()

    async def close_all(self) -> None:
        async with self._lock:
            opened, self._open = list(self._open.values()), {}
        for database in opened:
            await database.close()
