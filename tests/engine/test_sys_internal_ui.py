"""sys/internal/ui/mounts[/:path]: a token that may use something inside a mount learns the mount's type
and options (how clients tell KV v1 from v2), and nothing about mounts it cannot use."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.errors import PermissionDenied
from engine.request import Op
from tests.engine.auth_harness import Engine, make_engine


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    await engine.call(Op.UPDATE, "sys/mounts/kv2", {"type": "kv", "options": {"version": "2"}})
    await engine.call(Op.UPDATE, "sys/mounts/private", {"type": "kv"})
    yield engine
    engine.barrier.seal()


async def token_with(engine: Engine, policy: str) -> str:
    await engine.put_policy("app", policy)
    created = await engine.call(Op.UPDATE, "auth/token/create", {"policies": ["app"]})
    assert created.auth is not None
    return str(created.auth["client_token"])


async def test_a_token_with_a_rule_deep_inside_a_mount_learns_its_version(engine: Engine) -> None:
    token = await token_with(engine, 'path "kv2/data/app/*" { capabilities = ["read"] }')
    data = (await engine.call(Op.READ, "sys/internal/ui/mounts/kv2/app/config", token=token)).data
    assert data is not None
    assert (data["type"], data["options"], data["path"]) == ("kv", {"version": "2"}, "kv2/")


async def test_a_mount_the_token_cannot_use_is_refused(engine: Engine) -> None:
    token = await token_with(engine, 'path "kv2/data/app/*" { capabilities = ["read"] }')
    error = await engine.error(Op.READ, "sys/internal/ui/mounts/private/x", token=token)
    assert isinstance(error, PermissionDenied)
    assert "preflight capability check returned 403" in str(error)


async def test_a_denying_rule_grants_no_access(engine: Engine) -> None:
    token = await token_with(engine, 'path "kv2/*" { capabilities = ["deny"] }')
    assert isinstance(await engine.error(Op.READ, "sys/internal/ui/mounts/kv2", token=token), PermissionDenied)


async def test_a_segment_wildcard_rule_counts(engine: Engine) -> None:
    token = await token_with(engine, 'path "+/data/shared" { capabilities = ["read"] }')
    data = (await engine.call(Op.READ, "sys/internal/ui/mounts/kv2", token=token)).data
    assert data is not None and data["path"] == "kv2/"


async def test_no_token_no_mount(engine: Engine) -> None:
    assert isinstance(await engine.error(Op.READ, "sys/internal/ui/mounts/kv2", token=None), PermissionDenied)
    listing = (await engine.call(Op.READ, "sys/internal/ui/mounts", token=None)).data
    assert listing == {"secret": {}, "auth": {}}


async def test_the_listing_shows_only_usable_mounts(engine: Engine) -> None:
    token = await token_with(engine, 'path "kv2/data/app/*" { capabilities = ["read"] }')
    listing = (await engine.call(Op.READ, "sys/internal/ui/mounts", token=token)).data
    assert listing is not None
    assert "kv2/" in listing["secret"] and "private/" not in listing["secret"]
    everything = (await engine.call(Op.READ, "sys/internal/ui/mounts")).data
    assert everything is not None
    assert {"kv2/", "private/", "sys/"} <= set(everything["secret"]) and "token/" in everything["auth"]
