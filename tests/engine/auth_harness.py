"""Shared by the auth method and mount tests: a Core over the real barrier on memory storage with a
fake clock, calls as root or as any token and from any client address, and a scan of everything
stored (decrypted) for values that must never be kept in clear."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.barrier import Barrier
from engine.barrier.barrier import KEYRING_PATH
from engine.core import Core
from engine.errors import EngineError
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from tests.engine.core_harness import Clock, raised, unsealed_barrier

CLIENT = "10.1.2.3"


@dataclass
class Engine:
    physical: MemoryStorage
    barrier: Barrier
    core: Core
    root: str
    clock: Clock

    async def call(
        self,
        op: Op,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        token: str | None = "root",
        remote: str = CLIENT,
    ) -> Response:
        """A request as root (the default), as `token`, or without a token (token=None)."""
        client_token = self.root if token == "root" else token
        request = Request(op, path, dict(data or {}), client_token=client_token, remote_address=remote)
        return await self.core.handle(request)

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, *, token: str | None = "root", remote: str = CLIENT
    ) -> EngineError:
        return await raised(self.call(op, path, data, token=token, remote=remote))

    async def enable_auth(self, path: str, method: str, **body: Any) -> None:
        await self.call(Op.UPDATE, f"sys/auth/{path}", {"type": method, **body})

    async def put_policy(self, name: str, policy: str) -> None:
        await self.call(Op.UPDATE, f"sys/policies/acl/{name}", {"policy": policy})

    async def login(self, path: str, data: dict[str, Any], *, remote: str = CLIENT) -> dict[str, Any]:
        """Log in without a token and return Vault's auth block."""
        response = await self.call(Op.UPDATE, path, data, token=None, remote=remote)
        assert response.auth is not None, response
        return response.auth

    async def stored_values(self) -> list[bytes]:
        """Every key and value behind the barrier, decrypted, plus the raw physical bytes."""
        found: list[bytes] = []
        for key in await all_keys(self.barrier):
            value = None if key == KEYRING_PATH else await self.barrier.get(key)
            found += [key.encode(), value or b""]
        for key in await all_keys(self.physical):
            found += [key.encode(), await self.physical.get(key) or b""]
        return found

    async def restart(self) -> Engine:
        """A new Core over the same (still unsealed) barrier: what an unseal after a restart loads."""
        await self.core.teardown()
        core = Core(self.barrier, clock=self.clock)
        await core.setup()
        return Engine(self.physical, self.barrier, core, self.root, self.clock)


async def make_engine() -> Engine:
    physical = MemoryStorage()
    barrier = await unsealed_barrier(physical)
    clock = Clock()
    core = Core(barrier, clock=clock)
    await core.setup()
    return Engine(physical, barrier, core, await core.create_root_token(), clock)
