"""Token leases: every service token with a TTL is timed by the expiration manager, and a token's
secrets go with it (revocation or expiry, its children included)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import pytest

from engine.errors import PermissionDenied
from engine.request import Op
from tests.engine.leasing import World, make_world

HOUR = 3600


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    world = await make_world(monkeypatch)
    yield world
    world.barrier.seal()


async def alive(world: World, token: str) -> bool:
    try:
        await world.call(Op.READ, "auth/token/lookup-self", token=token)
    except PermissionDenied:
        return False
    return True


async def test_a_token_with_a_ttl_has_a_lease_at_its_path(world: World) -> None:
    await world.token(policies=["root"], ttl="1h")
    keys = (await world.call(Op.LIST, "sys/leases/lookup/auth/token/create/")).data
    assert keys is not None and len(keys["keys"]) == 1
    lease_id = "auth/token/create/" + keys["keys"][0]
    assert re.fullmatch(r"auth/token/create/[0-9a-f]{64}", lease_id)  # the token's hash, never the token
    shown = await world.lookup(lease_id)
    assert shown["ttl"] == HOUR and shown["renewable"] is True and shown["issue_time"] == "2030-01-01T00:00:00Z"
    renew = await world.error(Op.UPDATE, "sys/leases/renew", {"lease_id": lease_id})
    assert renew.status == 400 and renew.message == "tokens cannot be renewed through this endpoint"


async def test_root_tokens_without_a_ttl_have_no_lease(world: World) -> None:
    assert (await world.error(Op.LIST, "sys/leases/lookup/auth/")).status == 404
    await world.token(policies=["root"])
    assert (await world.error(Op.LIST, "sys/leases/lookup/auth/")).status == 404


async def test_revoking_a_token_revokes_its_leases_and_its_childrens(world: World) -> None:
    parent, _ = await world.token(policies=["root"], ttl="1h")
    child_auth = (await world.call(Op.UPDATE, "auth/token/create", {"ttl": "1h"}, token=parent)).auth
    assert child_auth is not None
    child = child_auth["client_token"]
    orphan, _ = await world.token(policies=["root"], ttl="1h", no_parent=True)
    by_parent = await world.lease("db/creds/parent", token=parent)
    by_child = await world.lease("db/creds/child", token=child)
    by_orphan = await world.lease("db/creds/orphan", token=orphan)
    by_root = await world.lease("db/creds/root")

    await world.call(Op.UPDATE, "auth/token/revoke", {"token": parent})
    assert sorted(world.engines["creds"].revoked) == ["child-1", "parent-0"]
    assert not await world.exists(by_parent.lease_id) and not await world.exists(by_child.lease_id)
    assert await world.exists(by_orphan.lease_id) and await world.exists(by_root.lease_id)
    assert not await alive(world, parent) and not await alive(world, child) and await alive(world, orphan)
    # The tokens' own leases went with them.
    keys = (await world.call(Op.LIST, "sys/leases/lookup/auth/token/create/")).data
    assert keys is not None and len(keys["keys"]) == 1  # the orphan's


async def test_a_tokens_ttl_running_out_revokes_it_its_children_and_their_leases(world: World) -> None:
    parent, _ = await world.token(policies=["root"], ttl="1h")
    child_auth = (await world.call(Op.UPDATE, "auth/token/create", {"ttl": "10h"}, token=parent)).auth
    assert child_auth is not None
    child = child_auth["client_token"]
    lease = await world.lease("db/creds/child", token=child)

    world.clock.advance(HOUR - 1)
    await world.core.expiration.tick()
    assert await alive(world, child) and await world.exists(lease.lease_id)

    world.clock.advance(1)
    await world.core.expiration.tick()
    assert not await alive(world, parent) and not await alive(world, child)
    assert world.engines["creds"].revoked == ["child-0"]
    assert not await world.exists(lease.lease_id)
    # Gone from storage, not merely expired: the child (10h) would otherwise still be there.
    assert (await world.error(Op.LIST, "sys/leases/lookup/auth/")).status == 404


async def test_a_token_expired_while_down_is_revoked_at_start(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h")
    lease = await world.lease("db/creds/app", token=token)
    await world.core.teardown()
    world.clock.advance(2 * HOUR)
    await world.restart()
    await world.core.expiration.tick()
    assert world.engines["creds"].revoked == ["app-0"] and not await world.exists(lease.lease_id)
    assert (await world.error(Op.LIST, "sys/leases/lookup/auth/")).status == 404


async def test_renewing_a_token_moves_its_expiry(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h", renewable=True)
    world.clock.advance(30 * 60)
    await world.call(Op.UPDATE, "auth/token/renew-self", {"increment": "2h"}, token=token)
    world.clock.advance(HOUR)  # past the first expiry
    await world.core.expiration.tick()
    assert await alive(world, token)
    keys = (await world.call(Op.LIST, "sys/leases/lookup/auth/token/create/")).data
    assert keys is not None
    shown = await world.lookup("auth/token/create/" + keys["keys"][0])
    assert shown["last_renewal"] == "2030-01-01T00:30:00Z" and shown["expire_time"] == "2030-01-01T02:30:00Z"

    world.clock.advance(HOUR)
    await world.core.expiration.tick()
    assert not await alive(world, token)


async def test_revoke_prefix_on_a_token_path_revokes_the_tokens(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h")
    lease = await world.lease("db/creds/app", token=token)
    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/auth/token/create")
    assert not await alive(world, token)
    assert not await world.exists(lease.lease_id)


async def test_secrets_of_a_token_revoked_while_the_backend_is_down_are_retried(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h")
    lease = await world.lease("db/creds/app", token=token)
    world.engines["creds"].fail = ConnectionError("down")
    await world.call(Op.UPDATE, "auth/token/revoke", {"token": token})
    assert not await alive(world, token)  # the token goes regardless
    shown = await world.lookup(lease.lease_id)
    assert shown["revoke_attempts"] == 1  # queued, not dropped

    world.engines["creds"].fail = None
    world.clock.advance(60)
    await world.core.expiration.tick()
    assert world.engines["creds"].revoked == ["app-0"] and not await world.exists(lease.lease_id)


async def _token_lease_id(world: World) -> str:
    keys = (await world.call(Op.LIST, "sys/leases/lookup/auth/token/create/")).data
    assert keys is not None and len(keys["keys"]) == 1
    return "auth/token/create/" + keys["keys"][0]


async def test_a_tokens_own_lease_is_not_in_the_token_index(world: World) -> None:
    # As in Vault, the token's own lease is found at "<token path>/<token hash>": a token create writes no
    # index row for it (one row fewer at a random key on the busiest durable write).
    token, _ = await world.token(policies=["root"], ttl="1h")
    lease = await world.lease("db/creds/app", token=token)
    token_hash = (await _token_lease_id(world)).rsplit("/", 1)[1]
    indexed = await world.barrier.list(f"sys/expire/token/{token_hash}/")
    assert len(indexed) == 1
    assert await world.barrier.get(f"sys/expire/token/{token_hash}/{indexed[0]}") == lease.lease_id.encode()


async def test_a_token_lease_indexed_by_a_store_from_before_is_renewed_and_dropped(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h", renewable=True)
    lease_id = await _token_lease_id(world)
    token_hash = lease_id.rsplit("/", 1)[1]
    old_index = f"sys/expire/token/{token_hash}/{hashlib.sha256(lease_id.encode()).hexdigest()}"
    await world.barrier.put(old_index, lease_id.encode())  # as every token create wrote it before

    await world.restart()
    world.clock.advance(30 * 60)
    await world.call(Op.UPDATE, "auth/token/renew-self", {"increment": "2h"}, token=token)
    assert (await world.lookup(lease_id))["expire_time"] == "2030-01-01T02:30:00Z"
    await world.call(Op.UPDATE, "auth/token/revoke-self", token=token)
    assert not await world.exists(lease_id)
    assert await world.barrier.get(old_index) is None
    assert await world.barrier.list("sys/expire/") == []  # nothing left of it: no id, no due, no index


async def test_a_token_lease_moved_with_its_mount_is_found_through_the_index(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h", renewable=True)
    token_hash = (await _token_lease_id(world)).rsplit("/", 1)[1]
    await world.core.expiration.move_prefix("auth/token/", "auth/moved/")
    moved_id = f"auth/moved/create/{token_hash}"  # no longer "<token path>/<token hash>"

    world.clock.advance(30 * 60)
    await world.call(Op.UPDATE, "auth/token/renew-self", {"increment": "2h"}, token=token)
    assert (await world.lookup(moved_id))["expire_time"] == "2030-01-01T02:30:00Z"
    await world.call(Op.UPDATE, "auth/token/revoke-self", token=token)
    assert not await world.exists(moved_id)
    assert await world.barrier.list("sys/expire/") == []
