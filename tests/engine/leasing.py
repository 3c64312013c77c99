"""Shared by the lease tests: a fake clock, a secret engine that issues leased credentials (the real
Backend interface, registered for the test only: KV v1 issues no leases, and a backend that is
unreachable is a failure no real engine here can produce on demand), and a Core over a real barrier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.backends import registry
from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import EngineError
from engine.framework import Backend, Field, FieldData, FieldType, Path, SecretLease
from engine.mounts import MountEntry
from engine.request import Op, Request, Response, Secret
from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage
from tests.engine import core_harness

START = datetime(2030, 1, 1, tzinfo=UTC)
LEASE_ID = r"[A-Za-z0-9]{24}"


class Clock(core_harness.Clock):
    """The shared fake clock, starting at this module's START."""

    def __init__(self, now: datetime = START) -> None:
        super().__init__(now)


class Unreachable(ConnectionError):
    """What a database that cannot be reached raises."""


class CredsBackend(Backend):
    """A dynamic-secret engine: `creds/<name>` issues a new user with a lease; revoking the lease
    drops the user, renewing asks for `renew_ttl`. `fail` makes every revocation raise."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.revoked: list[str] = []
        self.renewed: list[tuple[str, int]] = []
        self.fail: BaseException | None = None
        self.renew_ttl = 0
        self.renew_max_ttl = 0
        self.paths = [
            Path(
                r"creds/(?P<name>[\w-]+)",
                fields={"ttl": Field(FieldType.DURATION), "max_ttl": Field(FieldType.DURATION)},
                operations={Op.READ: self.creds},
            )
        ]

    async def creds(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        username = f"{data.get('name')}-{len(self.issued)}"
        self.issued.append(username)
        secret = Secret(ttl=data.get("ttl"), max_ttl=data.get("max_ttl"), internal_data={"username": username})
        return Response(data={"username": username, "password": "not-a-real-password"}, secret=secret)

    async def revoke_secret(self, lease: SecretLease, storage: Storage) -> None:
        if self.fail is not None:
            raise self.fail
        self.revoked.append(lease.internal_data["username"])

    async def renew_secret(self, lease: SecretLease, storage: Storage) -> Secret | None:
        self.renewed.append((lease.internal_data["username"], lease.increment))
        return Secret(ttl=self.renew_ttl, max_ttl=self.renew_max_ttl, internal_data=lease.internal_data)


class FixedBackend(CredsBackend):
    """Issues leased secrets it cannot renew (no renew_secret of its own)."""

    renew_secret = Backend.renew_secret  # type: ignore[assignment]


@dataclass
class World:
    barrier: Barrier
    clock: Clock
    core: Core
    root: str
    engines: dict[str, CredsBackend] = field(default_factory=dict)

    async def call(
        self, op: Op, path: str, data: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Response:
        request = Request(op, path, dict(data or {}), client_token=self.root if token is None else token)
        return await self.core.handle(request)

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, *, token: str | None = None
    ) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data, token=token)
        return caught.value

    async def restart(self) -> None:
        """The daemon stops and starts again over the same storage (the clock keeps running)."""
        await self.core.teardown()
        self.core = Core(self.barrier, clock=self.clock)
        await self.core.setup()

    async def mount(self, path: str, engine: str = "creds", config: dict[str, Any] | None = None) -> None:
        await self.call(Op.UPDATE, f"sys/mounts/{path}", {"type": engine, "config": config or {}})

    async def token(self, **settings: Any) -> tuple[str, str]:
        """A token made by root: its value and accessor."""
        auth = (await self.call(Op.UPDATE, "auth/token/create", settings)).auth
        assert auth is not None
        return auth["client_token"], auth["accessor"]

    async def lease(self, path: str, *, token: str | None = None, **query: Any) -> Response:
        response = await self.call(Op.READ, path, query, token=token)
        assert response.lease_id, response
        return response

    async def lookup(self, lease_id: str) -> dict[str, Any]:
        data = (await self.call(Op.UPDATE, "sys/leases/lookup", {"lease_id": lease_id})).data
        assert data is not None
        return data

    async def exists(self, lease_id: str) -> bool:
        try:
            await self.lookup(lease_id)
        except EngineError as error:
            assert error.status == 400 and error.message == "invalid lease"
            return False
        return True


async def unsealed_barrier(physical: Storage | None = None) -> Barrier:
    barrier = Barrier(physical or MemoryStorage())
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    return barrier


def register_engines(monkeypatch: pytest.MonkeyPatch, engines: dict[str, CredsBackend]) -> None:
    """Mountable types "creds" and "fixed" for this test: one backend object each, kept across
    restarts so a test can see what the engine was asked to do."""
    engines.setdefault("creds", CredsBackend())
    engines.setdefault("fixed", FixedBackend())
    for name, engine in engines.items():

        def factory(entry: MountEntry, engine: CredsBackend = engine) -> Backend:
            return engine

        monkeypatch.setitem(registry.SECRET_ENGINES, name, factory)


async def make_world(monkeypatch: pytest.MonkeyPatch, physical: Storage | None = None) -> World:
    """A core over a real barrier over `physical` (default: memory), with "creds" mounted at db/."""
    engines: dict[str, CredsBackend] = {}
    register_engines(monkeypatch, engines)
    barrier = await unsealed_barrier(physical)
    clock = Clock()
    core = Core(barrier, clock=clock)
    await core.setup()
    world = World(barrier, clock, core, await core.create_root_token(), engines)
    await world.mount("db", "creds")
    return world
