"""Shared by the token tests: a Core over the real barrier on memory storage, a fake clock, and short
ways to call it as a given token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.barrier import Barrier
from engine.core import Core
from engine.errors import EngineError, PermissionDenied
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from tests.engine.core_harness import Clock, raised, unsealed_barrier

HOUR = 3600
SYSTEM_MAX = 768 * HOUR


@dataclass
class Engine:
    core: Core
    root: str
    clock: Clock
    physical: MemoryStorage
    barrier: Barrier

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None) -> Response:
        request = Request(op, path, dict(data or {}), client_token=token or self.root, remote_address="127.0.0.1")
        return await self.core.handle(request)

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None
    ) -> EngineError:
        return await raised(self.call(op, path, data, token))

    async def create(self, token: str | None = None, path: str = "auth/token/create", **data: Any) -> dict[str, Any]:
        """Create a token (as root unless `token` is given) and return Vault's auth block."""
        response = await self.call(Op.UPDATE, path, data, token)
        assert response.data is None and response.auth is not None
        return response.auth

    async def token(self, token: str | None = None, path: str = "auth/token/create", **data: Any) -> str:
        return str((await self.create(token, path, **data))["client_token"])

    async def policy(self, name: str, text: str) -> None:
        await self.call(Op.UPDATE, f"sys/policies/acl/{name}", {"policy": text})

    async def lookup(self, token: str) -> dict[str, Any]:
        """The token's properties as root sees them (auth/token/lookup)."""
        data = (await self.call(Op.UPDATE, "auth/token/lookup", {"token": token})).data
        assert data is not None
        return data

    async def alive(self, token: str) -> bool:
        try:
            await self.call(Op.UPDATE, "auth/token/lookup", {"token": token})
        except PermissionDenied as refused:
            assert refused.message == "bad token"
            return False
        return True

    async def raw_dump(self) -> bytes:
        """Every key and value the physical storage holds, as bytes."""
        keys = await all_keys(self.physical)
        return b"".join([key.encode() + (await self.physical.get(key) or b"") for key in keys])


async def start_engine() -> Engine:
    physical = MemoryStorage()
    barrier = await unsealed_barrier(physical)
    clock = Clock()
    core = Core(barrier, clock=clock)
    await core.setup()
    return Engine(core, await core.create_root_token(), clock, physical, barrier)


async def start_engine_with_every_mount() -> Engine:
    """An engine with one mount of every secret engine and auth method besides the defaults."""
    engine = await start_engine()
    for kind in ("transit", "pki", "database"):
        await engine.call(Op.UPDATE, f"sys/mounts/{kind}", {"type": kind})
    await engine.call(Op.UPDATE, "sys/mounts/kv2", {"type": "kv", "options": {"version": "2"}})
    for kind in ("userpass", "approle"):
        await engine.call(Op.UPDATE, f"sys/auth/{kind}", {"type": kind})
    return engine


async def stop_engine(engine: Engine) -> None:
    await engine.core.teardown()
    engine.barrier.seal()


# A policy that may create tokens (and look them up, and list accessors without sudo).
CREATOR = """
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/create-orphan" { capabilities = ["update"] }
path "auth/token/create/*" { capabilities = ["update"] }
path "auth/token/lookup" { capabilities = ["update"] }
path "auth/token/revoke-orphan" { capabilities = ["update"] }
path "auth/token/accessors/" { capabilities = ["list"] }
path "secret/*" { capabilities = ["read", "create", "update"] }
"""

# The same, with sudo where Vault asks for it.
SUDO_CREATOR = """
path "auth/token/create" { capabilities = ["update", "sudo"] }
path "auth/token/revoke-orphan" { capabilities = ["update", "sudo"] }
path "auth/token/accessors/" { capabilities = ["list", "sudo"] }
"""
