"""Batch tokens through Core.handle: self-contained sealed blobs, nothing stored, not renewable or
revocable, no children, dead with their TTL or their parent; their policies apply like any other's."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from token_harness import CREATOR, HOUR, Engine, start_engine, stop_engine

from engine.errors import BadRequest, PermissionDenied
from engine.request import Op
from engine.storage.view import all_keys


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await start_engine()
    await engine.policy("creator", CREATOR)
    yield engine
    await stop_engine(engine)


async def test_a_batch_token_is_a_sealed_blob_and_writes_nothing(engine: Engine) -> None:
    parent = await engine.token(policies=["creator"])
    before = {key: await engine.physical.get(key) for key in await all_keys(engine.physical)}
    auth = await engine.create(parent, type="batch", policies=["creator"], ttl="1h")
    after = {key: await engine.physical.get(key) for key in await all_keys(engine.physical)}
    assert after == before  # no storage write at all
    token = auth["client_token"]
    assert token.startswith("hvb.") and len(token) > 100
    assert auth["token_type"] == "batch" and auth["accessor"] == "" and auth["renewable"] is False
    assert auth["lease_duration"] == HOUR and auth["orphan"] is False
    assert auth["policies"] == ["creator", "default"]


async def test_lookup_of_a_batch_token(engine: Engine) -> None:
    token = await engine.token(type="batch", policies=["creator"], ttl="1h", meta={"k": "v"})
    data = (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data
    assert data is not None and data["id"] == token and data["type"] == "batch"
    assert data["accessor"] == "" and data["num_uses"] == 0 and data["renewable"] is False
    assert data["expire_time"] == "2030-01-01T13:00:00Z" and data["ttl"] == HOUR and data["meta"] == {"k": "v"}
    assert data["orphan"] is False and data["path"] == "auth/token/create"


async def test_batch_token_policies_are_checked_like_any_other(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/app", {"v": "1"})
    token = await engine.token(type="batch", policies=["creator"])
    assert (await engine.call(Op.READ, "secret/app", token=token)).data == {"v": "1"}
    assert isinstance(await engine.error(Op.READ, "sys/mounts", token=token), PermissionDenied)
    narrow = await engine.token(type="batch", policies=["nothing"])
    assert isinstance(await engine.error(Op.READ, "secret/app", token=narrow), PermissionDenied)


async def test_batch_tokens_cannot_be_renewed_revoked_or_have_children(engine: Engine) -> None:
    token = await engine.token(type="batch", policies=["creator"])
    for path, data, message in (
        ("auth/token/renew-self", {}, "batch tokens cannot be renewed"),
        ("auth/token/renew", {"token": token}, "batch tokens cannot be renewed"),
        ("auth/token/revoke", {"token": token}, "batch tokens cannot be revoked"),
        ("auth/token/create", {"policies": ["creator"]}, "batch tokens cannot create more tokens"),
    ):
        as_token = token if path in ("auth/token/renew-self", "auth/token/create") else None
        error = await engine.error(Op.UPDATE, path, data, as_token)
        assert isinstance(error, BadRequest) and error.message == message
    assert await engine.alive(token)


async def test_batch_tokens_expire_with_their_ttl(engine: Engine) -> None:
    token = await engine.token(type="batch", policies=["creator"], ttl="10m")
    engine.clock.advance(599)
    assert await engine.alive(token)
    engine.clock.advance(1)
    assert not await engine.alive(token)
    assert isinstance(await engine.error(Op.READ, "secret/app", token=token), PermissionDenied)


async def test_batch_tokens_die_with_their_parent_but_orphans_do_not(engine: Engine) -> None:
    parent = await engine.token(policies=["creator"])
    child = await engine.token(parent, type="batch", policies=["creator"])
    orphan = await engine.token(parent, path="auth/token/create-orphan", type="batch", policies=["creator"])
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": parent})
    assert not await engine.alive(child)
    assert await engine.alive(orphan)


async def test_a_tampered_or_foreign_batch_token_is_no_token(engine: Engine) -> None:
    token = await engine.token(type="batch", policies=["creator"])
    blob = bytearray(base64.urlsafe_b64decode(token[4:] + "=" * (-len(token[4:]) % 4)))
    blob[-1] ^= 1
    tampered = "hvb." + base64.urlsafe_b64encode(bytes(blob)).rstrip(b"=").decode()
    other = await start_engine()
    try:
        foreign = await other.token(type="batch", policies=["creator"])  # sealed under another key
    finally:
        await stop_engine(other)
    for bad in (tampered, foreign, token[:-3], "hvb.garbage"):
        error = await engine.error(Op.READ, "auth/token/lookup-self", token=bad)
        assert isinstance(error, PermissionDenied)


async def test_batch_tokens_refuse_what_they_cannot_honour(engine: Engine) -> None:
    for data, message in (
        ({"num_uses": 3}, 'batch tokens cannot have "num_uses" set'),
        ({"period": "1h"}, 'batch tokens cannot have "period" set'),
        ({"explicit_max_ttl": "1h"}, 'batch tokens cannot have "explicit_max_ttl" set'),
        ({}, "batch tokens cannot be root tokens"),
    ):
        error = await engine.error(Op.UPDATE, "auth/token/create", {"type": "batch", **data})
        assert isinstance(error, BadRequest) and error.message == message
