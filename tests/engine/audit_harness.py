"""A real core on a real (in-memory) barrier, with helpers to read what an audit file holds."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.barrier import Barrier
from engine.core import Core
from engine.errors import EngineError
from engine.request import Op, Request, Response
from tests.engine.leasing import unsealed_barrier


@dataclass
class AuditWorld:
    barrier: Barrier
    core: Core
    root: str

    async def call(
        self, op: Op, path: str, data: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Response:
        token = self.root if token is None else token
        req = Request(op, path, dict(data or {}), client_token=token, remote_address="127.0.0.1")
        return await self.core.handle(req)

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, *, token: str | None = None
    ) -> EngineError:
        try:
            await self.call(op, path, data, token=token)
        except EngineError as exc:
            return exc
        raise AssertionError(f"{op} {path} succeeded")

    async def enable_file(self, name: str, file_path: Path, **options: str) -> None:
        body = {"type": "file", "options": {"file_path": str(file_path), **options}}
        await self.call(Op.UPDATE, f"sys/audit/{name}", body)

    async def chain_key(self, name: str) -> bytes:
        response = await self.call(Op.READ, f"sys/audit/{name}/verification-key")
        assert response.data is not None
        return base64.b64decode(response.data["key"])

    async def restart(self) -> None:
        await self.core.teardown()
        await self.core.setup()


@pytest.fixture(name="world")
async def world_fixture() -> AsyncIterator[AuditWorld]:
    barrier = await unsealed_barrier()
    core = Core(barrier)
    await core.setup()
    world = AuditWorld(barrier, core, await core.create_root_token())
    yield world
    await world.core.teardown()  # closes the devices' files (of the core a test may have replaced)


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def logged(path: Path) -> list[dict[str, Any]]:
    """The request and response lines (chain-start lines left out)."""
    return [e for e in entries(path) if e["type"] != "chain-start"]
