"""Shared by the KV v2 tests: the whole pipeline (Core over the real barrier over memory) with a KV v2
mount at kv/, whose engine runs on the same fake clock as the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from engine.backends.kv import kv_factory
from engine.backends.registry import SECRET_ENGINES
from engine.core import Core
from engine.errors import EngineError, NotFound
from engine.request import Op, Response
from tests.engine.token_harness import Engine, start_engine, stop_engine

MOUNT = "kv"


def bind_clock(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    """KV engines mounted from now on read the test's clock (the registry's factory takes none)."""
    monkeypatch.setitem(SECRET_ENGINES, "kv", lambda entry: kv_factory(entry, engine.clock))


@dataclass
class Kv:
    engine: Engine
    mount: str = MOUNT

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None) -> Response:
        return await self.engine.call(op, f"{self.mount}/{path}", data, token)

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None
    ) -> EngineError:
        return await self.engine.error(op, f"{self.mount}/{path}", data, token)

    async def write(self, key: str, secret: dict[str, Any], **options: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"data": secret}
        if options:
            body["options"] = options
        response = await self.call(Op.UPDATE, f"data/{key}", body)
        assert response.data is not None and response.status is None
        return response.data

    async def read(self, key: str, version: int | None = None) -> Response:
        query = {} if version is None else {"version": str(version)}
        return await self.call(Op.READ, f"data/{key}", query)

    async def secret(self, key: str, version: int | None = None) -> dict[str, Any]:
        response = await self.read(key, version)
        assert response.status is None and response.data is not None
        data: dict[str, Any] = response.data["data"]
        return data

    async def metadata(self, key: str) -> dict[str, Any]:
        data = (await self.call(Op.READ, f"metadata/{key}")).data
        assert data is not None
        return data

    async def missing(self, op: Op, path: str, data: dict[str, Any] | None = None) -> None:
        """The call is a 404 without a body ({"errors": []})."""
        error = await self.error(op, path, data)
        assert isinstance(error, NotFound) and error.message == ""

    async def restart(self) -> Kv:
        """A new core over the same barrier, as after a daemon restart."""
        await self.engine.core.teardown()
        core = Core(self.engine.barrier, clock=self.engine.clock)
        await core.setup()
        self.engine.core = core
        return self


async def make_kv(monkeypatch: pytest.MonkeyPatch, mount_body: dict[str, Any] | None = None) -> Kv:
    engine = await start_engine()
    bind_clock(monkeypatch, engine)
    await engine.call(Op.UPDATE, f"sys/mounts/{MOUNT}", mount_body or {"type": "kv-v2"})
    return Kv(engine)


async def close_kv(kv: Kv) -> None:
    await stop_engine(kv.engine)
