"""Rate limit quotas: sys/quotas/* through Core.handle (Vault's shapes and errors) and the limiter
(engine/quotas.py) on the core's fake clock: buckets per client, the most specific rule, refills,
blocking, exempt paths, and rules surviving a re-setup (stored behind the barrier)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.core import Core
from engine.errors import BadRequest, EngineError, PermissionDenied
from engine.quotas import DEFAULT_EXEMPT_PATHS
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage
from tests.engine.core_harness import Clock, unsealed_barrier


@dataclass
class World:
    core: Core
    clock: Clock
    root: str

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None) -> Response:
        return await self.core.handle(Request(op=op, path=path, data=data or {}, client_token=token or self.root))

    async def error(self, op: Op, path: str, data: dict[str, Any] | None = None) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data)
        return caught.value

    def allowed(self, path: str, client: str = "10.0.0.1") -> bool | None:
        verdict = self.core.quotas.check(path, client)
        return None if verdict is None else verdict.allowed


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = Clock()
    barrier = await unsealed_barrier(MemoryStorage())
    core = Core(barrier, clock=clock)
    await core.setup()
    world = World(core, clock, await core.create_root_token())
    # secret/ is there from the start.
    await world.call(Op.UPDATE, "sys/mounts/other", {"type": "kv"})
    yield world
    await core.teardown()


# --- the API -------------------------------------------------------------------------------------


async def test_a_quota_reads_back_in_vaults_shape(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/global", {"rate": 897.3, "interval": "2m",
                                                                 "block_interval": "5m"})
    data = (await world.call(Op.READ, "sys/quotas/rate-limit/global")).data
    assert data is not None
    assert {k: data[k] for k in ("name", "path", "type", "rate", "interval", "block_interval")} == {
        "name": "global", "path": "", "type": "rate-limit", "rate": 897.3, "interval": 120, "block_interval": 300,
    }


async def test_list_and_delete(world: World) -> None:
    assert (await world.error(Op.LIST, "sys/quotas/rate-limit")).status == 404
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/b", {"rate": 5, "path": "secret/"})
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/a", {"rate": 5})
    assert (await world.call(Op.LIST, "sys/quotas/rate-limit")).data == {"keys": ["a", "b"]}
    await world.call(Op.DELETE, "sys/quotas/rate-limit/a")
    assert (await world.call(Op.LIST, "sys/quotas/rate-limit/")).data == {"keys": ["b"]}
    assert (await world.error(Op.READ, "sys/quotas/rate-limit/a")).status == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'rate' is invalid"),
        ({"rate": 0}, "'rate' is invalid"),
        ({"rate": -3}, "'rate' is invalid"),
        ({"rate": "lots"}, "'rate' is invalid"),
        ({"rate": 5, "path": "nowhere/"}, 'invalid mount path "nowhere/"'),
        ({"rate": 5, "role": "web"}, "role-based rate limit quotas are not supported"),
        ({"rate": 5, "interval": "-1s"}, "interval"),
        ({"rate": 5, "type": "lease-count"}, 'only "rate-limit"'),
    ],
)
async def test_a_bad_quota_is_refused_and_changes_nothing(world: World, body: dict[str, Any], message: str) -> None:
    error = await world.error(Op.UPDATE, "sys/quotas/rate-limit/q", body)
    assert isinstance(error, BadRequest) and message in error.message
    assert world.core.quotas.get("q") is None


async def test_two_quotas_on_one_path_are_refused(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/first", {"rate": 5, "path": "secret"})
    error = await world.error(Op.UPDATE, "sys/quotas/rate-limit/second", {"rate": 9, "path": "secret/"})
    assert error.status == 400 and 'under the name "first"' in error.message
    # The mount's path without its slash is stored as the mount point.
    assert (await world.call(Op.READ, "sys/quotas/rate-limit/first")).data["path"] == "secret/"  # type: ignore[index]


async def test_an_auth_mount_path_is_stored_as_its_mount_point(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/logins", {"rate": 1, "path": "auth/token"})
    assert (await world.call(Op.READ, "sys/quotas/rate-limit/logins")).data["path"] == "auth/token/"  # type: ignore[index]
    assert [world.allowed("auth/token/lookup-self") for _ in range(2)] == [True, False]
    assert world.allowed("secret/a") is None


async def test_quotas_need_a_token_allowed_to_manage_them(world: World) -> None:
    await world.call(Op.UPDATE, "sys/policies/acl/reader", {"policy": 'path "secret/*" { capabilities = ["read"] }'})
    created = await world.call(Op.UPDATE, "auth/token/create", {"policies": ["reader"]})
    assert created.auth is not None
    with pytest.raises(PermissionDenied):
        await world.call(Op.UPDATE, "sys/quotas/rate-limit/q", {"rate": 1}, token=created.auth["client_token"])
    assert world.core.quotas.get("q") is None


async def test_config_defaults_to_vaults_exempt_paths_and_updates_only_what_is_given(world: World) -> None:
    data = (await world.call(Op.READ, "sys/quotas/config")).data
    assert data == {"rate_limit_exempt_paths": list(DEFAULT_EXEMPT_PATHS), "enable_rate_limit_audit_logging": False,
                    "enable_rate_limit_response_headers": False}
    await world.call(Op.UPDATE, "sys/quotas/config", {"enable_rate_limit_response_headers": True})
    await world.call(Op.UPDATE, "sys/quotas/config", {"rate_limit_exempt_paths": ["sys/health", "secret/open/*"]})
    data = (await world.call(Op.READ, "sys/quotas/config")).data
    assert data is not None
    assert data["enable_rate_limit_response_headers"] is True
    assert data["rate_limit_exempt_paths"] == ["sys/health", "secret/open/*"]


# --- the limiter ---------------------------------------------------------------------------------


async def test_a_client_gets_rate_requests_per_interval_then_a_refusal_until_the_refill(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/g", {"rate": 3, "interval": "10s"})
    assert [world.allowed("secret/a") for _ in range(4)] == [True, True, True, False]
    refused = world.core.quotas.check("secret/a", "10.0.0.1")
    assert refused is not None and refused.remaining == 0 and refused.limit == 3
    assert refused.reset == world.clock().timestamp() + 10
    # Another client has its own bucket.
    assert world.allowed("secret/a", client="10.0.0.2") is True
    world.clock.advance(10)
    assert world.allowed("secret/a") is True


async def test_block_interval_keeps_a_client_out_past_the_refill(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/g", {"rate": 1, "interval": "1s", "block_interval": "30s"})
    assert [world.allowed("secret/a") for _ in range(2)] == [True, False]
    world.clock.advance(5)
    assert world.allowed("secret/a") is False
    world.clock.advance(26)
    assert world.allowed("secret/a") is True


async def test_the_most_specific_rule_applies_and_only_it(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/global", {"rate": 1})
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/mount", {"rate": 2, "path": "secret/"})
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/app", {"rate": 3, "path": "secret/app/*"})
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/exact", {"rate": 4, "path": "secret/exact"})

    def rule(path: str) -> str:
        verdict = world.core.quotas.check(path, "c")
        assert verdict is not None
        return verdict.quota

    assert rule("secret/app/x/y") == "app"
    assert rule("secret/exact") == "exact"
    assert rule("secret/exact/below") == "mount"
    assert rule("secret/other") == "mount"
    assert rule("other/thing") == "global"
    assert rule("sys/mounts") == "global"


async def test_exempt_paths_are_never_limited(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/g", {"rate": 1})
    assert all(world.allowed("sys/health") is None for _ in range(5))
    await world.call(Op.UPDATE, "sys/quotas/config", {"rate_limit_exempt_paths": ["secret/open/*"]})
    assert all(world.allowed("secret/open/x") is None for _ in range(5))
    assert [world.allowed("sys/health") for _ in range(2)] == [True, False]


async def test_no_rule_means_no_verdict(world: World) -> None:
    assert world.allowed("secret/a") is None
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/m", {"rate": 1, "path": "other/"})
    assert world.allowed("secret/a") is None


async def test_rules_and_config_survive_a_new_setup_behind_the_barrier(world: World) -> None:
    await world.call(Op.UPDATE, "sys/quotas/rate-limit/m", {"rate": 2, "path": "secret/"})
    await world.call(Op.UPDATE, "sys/quotas/config", {"enable_rate_limit_response_headers": True})
    await world.core.teardown()
    await world.core.setup()
    assert world.core.quotas.names() == ["m"]
    assert world.core.quotas.config.enable_rate_limit_response_headers is True
    assert [world.allowed("secret/a") for _ in range(3)] == [True, True, False]
