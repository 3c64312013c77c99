"""Durable rounds per request, counted as commits of the real SQLite storage under the real barrier and
core: a new token and its lease share one commit, a login with nothing else to record is one commit,
and concurrent requests share commits (group commit) without losing any of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import BadRequest
from engine.expiration.store import ROOT as LEASES
from engine.request import Op, Request, Response
from engine.storage.sqlite import SqliteStorage
from engine.storage.view import all_keys
from engine.tokens import ACCESSOR_PREFIX, ID_PREFIX

POLICY = 'path "kv/*" { capabilities = ["create", "read", "update"] }'


@dataclass
class Daemonless:
    core: Core
    physical: SqliteStorage
    root: str

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = "") -> Response:
        client_token = self.root if token == "" else token
        request = Request(op, path, dict(data or {}), client_token=client_token, remote_address="127.0.0.1")
        return await self.core.handle(request)

    async def commits_of(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = "") -> int:
        before = self.physical.commits
        await self.call(op, path, data, token)
        return self.physical.commits - before


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Daemonless]:
    physical = await SqliteStorage.open(tmp_path / "store.db")
    barrier = Barrier(physical)
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    core = Core(barrier)
    await core.setup()
    engine = Daemonless(core, physical, await core.create_root_token())
    try:
        yield engine
    finally:
        await core.teardown()
        await physical.close()


async def _approle(engine: Daemonless) -> dict[str, str]:
    await engine.call(Op.UPDATE, "sys/auth/approle", {"type": "approle"})
    await engine.call(Op.UPDATE, "auth/approle/role/app", {"token_policies": ["kv"], "token_ttl": "1h"})
    role_id = (await engine.call(Op.READ, "auth/approle/role/app/role-id")).data
    secret_id = (await engine.call(Op.UPDATE, "auth/approle/role/app/secret-id")).data
    assert role_id is not None and secret_id is not None
    return {"role_id": role_id["role_id"], "secret_id": secret_id["secret_id"]}


async def _stored_keys(engine: Daemonless, prefix: str) -> list[str]:
    return await all_keys(engine.physical, prefix)


async def test_a_new_token_and_its_lease_land_in_one_commit(engine: Daemonless) -> None:
    before = engine.physical.commits
    response = await engine.call(Op.UPDATE, "auth/token/create", {"ttl": "1h"})
    assert engine.physical.commits - before == 1
    assert response.auth is not None
    accessor = response.auth["accessor"]
    lookup = (await engine.call(Op.UPDATE, "auth/token/lookup-accessor", {"accessor": accessor})).data
    assert lookup is not None and lookup["ttl"] == 3600
    # In that one commit: the entry, its accessor index and the lease (with its indexes).
    assert await engine.physical.get(ACCESSOR_PREFIX + accessor) is not None
    leases = await _stored_keys(engine, LEASES + "id/auth/token/create/")
    assert len(leases) == 1
    assert await engine.physical.get(ID_PREFIX + leases[0]) is not None  # the lease is named after the token


async def test_an_approle_login_is_one_commit(engine: Daemonless) -> None:
    credentials = await _approle(engine)
    for _ in range(3):  # a success with no failures on record writes no lockout record either
        assert await engine.commits_of(Op.UPDATE, "auth/approle/login", credentials, token=None) == 1
    assert len(await _stored_keys(engine, LEASES + "id/auth/approle/login/")) == 3


async def test_a_limited_secret_id_counts_its_use_before_the_token_is_made(engine: Daemonless) -> None:
    credentials = await _approle(engine)
    limited = (await engine.call(Op.UPDATE, "auth/approle/role/app/secret-id", {"num_uses": 2})).data
    assert limited is not None
    login = {"role_id": credentials["role_id"], "secret_id": limited["secret_id"]}
    # The use, then the token: two rounds, in that order, so a crash between them never leaves a token
    # made on a use that was not counted.
    assert await engine.commits_of(Op.UPDATE, "auth/approle/login", login, token=None) == 2
    await engine.call(Op.UPDATE, "auth/approle/login", login, token=None)
    with pytest.raises(BadRequest, match="invalid role or secret ID"):
        await engine.call(Op.UPDATE, "auth/approle/login", login, token=None)


async def test_concurrent_requests_share_commits_and_all_of_them_land(engine: Daemonless) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/kv", {"type": "kv", "options": {"version": "2"}})
    await engine.call(Op.UPDATE, "sys/policies/acl/kv", {"policy": POLICY})
    before = engine.physical.commits
    tokens = await asyncio.gather(
        *(engine.call(Op.UPDATE, "auth/token/create", {"policies": ["kv"], "ttl": "1h"}) for _ in range(32))
    )
    writes = await asyncio.gather(
        *(
            engine.call(Op.UPDATE, f"kv/data/k{i % 8}", {"data": {"n": i}}, token=str(t.auth["client_token"]))
            for i, t in enumerate(tokens)
            if t.auth is not None
        )
    )
    assert len(writes) == 32
    assert engine.physical.commits - before < 64  # 64 requests, fewer fsyncs
    for i in range(8):
        meta = (await engine.call(Op.READ, f"kv/metadata/k{i}")).data
        assert meta is not None and meta["current_version"] == 4  # no write lost to another
    assert len(await _stored_keys(engine, LEASES + "id/auth/token/create/")) == 32
