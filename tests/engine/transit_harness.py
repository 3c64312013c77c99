"""Shared by the transit tests: a Core over the real barrier on memory storage with transit mounted at
transit/, a settable clock, and short ways to call it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from engine.barrier import Barrier
from engine.core import Core
from engine.errors import EngineError
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage
from engine.token_keys import TokenKeys
from tests.engine.core_harness import Clock, raised, unsealed_barrier


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


@dataclass
class Transit:
    core: Core
    root: str
    clock: Clock
    physical: MemoryStorage
    barrier: Barrier
    mount: str = "transit"

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None) -> Response:
        request = Request(op, f"{self.mount}/{path}", dict(data or {}), client_token=token or self.root)
        return await self.core.handle(request)

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None
    ) -> EngineError:
        return await raised(self.call(op, path, data, token))

    async def write(self, path: str, **data: Any) -> dict[str, Any]:
        response = await self.call(Op.UPDATE, path, data)
        assert response.status is None, response.data
        return response.data or {}

    async def fails(self, path: str, status: int = 400, **data: Any) -> str:
        """The message of a write that must fail with `status`."""
        error = await self.error(Op.UPDATE, path, data)
        assert error.status == status, error.message
        return error.message

    async def read(self, path: str) -> dict[str, Any]:
        response = await self.call(Op.READ, path)
        return response.data or {}

    async def encrypt(self, key: str, plaintext: bytes, **extra: Any) -> str:
        return str((await self.write(f"encrypt/{key}", plaintext=b64(plaintext), **extra))["ciphertext"])

    async def decrypt(self, key: str, ciphertext: str, **extra: Any) -> bytes:
        return unb64((await self.write(f"decrypt/{key}", ciphertext=ciphertext, **extra))["plaintext"])

    async def mount_uuid(self) -> str:
        mounts = await self.core.handle(Request(Op.READ, "sys/mounts", client_token=self.root))
        assert mounts.data is not None
        return str(mounts.data[f"{self.mount}/"]["uuid"])

    async def stored_policy(self, name: str) -> dict[str, Any]:
        """The key as the mount's storage view holds it (decrypted by the barrier)."""
        raw = await self.barrier.get(f"logical/{await self.mount_uuid()}/policy/{name}")
        assert raw is not None
        return dict(json.loads(raw))

    async def policy_token(self, rules: str) -> str:
        await self.core.handle(
            Request(Op.UPDATE, "sys/policy/transit-test", {"policy": rules}, client_token=self.root)
        )
        created = await self.core.handle(
            Request(Op.UPDATE, "auth/token/create", {"policies": ["transit-test"]}, client_token=self.root)
        )
        assert created.auth is not None
        return str(created.auth["client_token"])


async def start_transit(token_keys: TokenKeys | None = None) -> Transit:
    physical = MemoryStorage()
    barrier = await unsealed_barrier(physical)
    clock = Clock()
    core = Core(barrier, clock=clock, token_keys=token_keys)
    await core.setup()
    root = await core.create_root_token()
    engine = Transit(core, root, clock, physical, barrier)
    await core.handle(Request(Op.UPDATE, "sys/mounts/transit", {"type": "transit"}, client_token=root))
    return engine


async def stop_transit(engine: Transit) -> None:
    await engine.core.teardown()
    engine.barrier.seal()
