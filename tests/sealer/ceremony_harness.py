"""Shared set-up for the ceremony tests: a real seal manager (memory storage, a real seal) behind the real
aiohttp application, and the HTTP calls the ceremonies are driven with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from engine.storage.memory import MemoryStorage
from sealer.http.app import build_app
from sealer.seal_manager import InitRequest, InitResult, SealManager
from sealer.seals.base import Seal
from sealer.seals.shamir import ShamirSeal


@dataclass
class Api:
    client: TestClient
    manager: SealManager
    init: InitResult

    @property
    def shares(self) -> list[bytes]:
        """The shares people hold: unseal shares (shamir) or recovery shares (auto-unseal)."""
        return self.init.recovery_keys or self.init.keys

    async def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"X-Vault-Token": token} if token else {}
        async with self.client.request(method, f"/v1/{path}", json=body, headers=headers) as resp:
            text = await resp.text()
            return resp.status, (await resp.json() if text else None)

    async def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, answer = await self.call(method, path, body, token)
        assert status in (200, 204), (status, answer)
        return answer

    async def refused(self, method: str, path: str, body: Any = None, status: int = 400) -> str:
        got, answer = await self.call(method, path, body)
        assert got == status, (got, answer)
        return "; ".join(answer["errors"])

    async def proves(self, shares: list[bytes]) -> bool:
        """Whether these shares are the valid ones right now (what key_from_shares accepts)."""
        try:
            await self.manager.key_from_shares(shares)
        except Exception:
            return False
        return True

    async def unseal_with(self, shares: list[bytes]) -> dict[str, Any]:
        status: dict[str, Any] = {}
        for share in shares:
            status = await self.manager.submit_share(share.hex(), reset=False)
        return status


@asynccontextmanager
async def running(seal: Seal | None = None, *, shares: int = 3, threshold: int = 2) -> AsyncIterator[Api]:
    """An initialised, unsealed manager behind the HTTP app."""
    manager = SealManager(MemoryStorage(), seal or ShamirSeal())
    if manager.seal.auto_unseal:
        result = await manager.initialize(InitRequest(recovery_shares=shares, recovery_threshold=threshold))
    else:
        result = await manager.initialize(InitRequest(secret_shares=shares, secret_threshold=threshold))
        for share in result.keys[:threshold]:
            await manager.submit_share(share.hex(), reset=False)
    assert not manager.sealed
    try:
        async with TestClient(TestServer(build_app(manager))) as client:
            yield Api(client, manager, result)
    finally:
        await manager.seal.close()
