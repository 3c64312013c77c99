"""The sys/leases endpoints (and Vault's older sys/renew, sys/revoke... aliases) through Core.handle:
Vault's shapes, messages and status codes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from engine.errors import BadRequest, PermissionDenied
from engine.request import Op
from tests.engine.leasing import LEASE_ID, Unreachable, World, make_world

HOUR = 3600


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    world = await make_world(monkeypatch)
    yield world
    world.barrier.seal()


# --- lookup and list -----------------------------------------------------------------------------


async def test_lookup_needs_a_known_lease_id(world: World) -> None:
    missing = await world.error(Op.UPDATE, "sys/leases/lookup", {})
    assert isinstance(missing, BadRequest) and missing.message == "lease_id must be specified"
    unknown = await world.error(Op.UPDATE, "sys/leases/lookup", {"lease_id": "db/creds/app/nope"})
    assert isinstance(unknown, BadRequest) and unknown.message == "invalid lease"
    for sneaky in ("../../core/keyring", "db/creds/../../../core/mounts"):
        assert (await world.error(Op.UPDATE, "sys/leases/lookup", {"lease_id": sneaky})).status == 400


async def test_lookup_answers_at_the_top_level_too(world: World) -> None:
    lease = await world.lease("db/creds/app")
    response = await world.call(Op.UPDATE, "sys/leases/lookup", {"lease_id": lease.lease_id})
    envelope = response.envelope("req")
    assert envelope["data"]["id"] == lease.lease_id and envelope["id"] == lease.lease_id


async def test_list_by_prefix_walks_lease_ids_like_folders(world: World) -> None:
    first = await world.lease("db/creds/a")
    second = await world.lease("db/creds/a")
    await world.lease("db/creds/b")
    assert (await world.call(Op.LIST, "sys/leases/lookup/db/creds")).data == {"keys": ["a/", "b/"]}
    assert (await world.call(Op.LIST, "sys/leases/lookup/db/creds/")).data == {"keys": ["a/", "b/"]}
    keys = (await world.call(Op.LIST, "sys/leases/lookup/db/creds/a/")).data
    assert keys is not None and sorted(keys["keys"]) == sorted(
        [first.lease_id.rsplit("/", 1)[1], second.lease_id.rsplit("/", 1)[1]]
    )
    assert "db/" in ((await world.call(Op.LIST, "sys/leases/lookup/")).data or {})["keys"]
    assert (await world.error(Op.LIST, "sys/leases/lookup/nothing/here/")).status == 404


# --- renew ---------------------------------------------------------------------------------------


async def test_renew_with_increment_is_capped_by_the_max_ttl(world: World) -> None:
    await world.mount("short", "creds", {"default_lease_ttl": "1h", "max_lease_ttl": "2h"})
    lease = await world.lease("short/creds/app")
    world.clock.advance(30 * 60)

    renewed = await world.call(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id, "increment": "3h"})
    assert renewed.lease_id == lease.lease_id and renewed.renewable is True
    assert renewed.lease_duration == 90 * 60  # what is left of the 2h max, counted from issue
    assert renewed.warnings == [
        'TTL of "3h" exceeded the effective max_ttl of "1h30m"; TTL value is capped accordingly'
    ]
    assert world.engines["creds"].renewed == [("app-0", 3 * HOUR)]
    shown = await world.lookup(lease.lease_id)
    assert shown["last_renewal"] == "2030-01-01T00:30:00Z" and shown["expire_time"] == "2030-01-01T02:00:00Z"

    within = await world.call(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id, "increment": 600})
    assert within.lease_duration == 600 and within.warnings == []

    world.clock.advance(10 * 60)
    expired = await world.error(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id})
    assert isinstance(expired, BadRequest) and expired.message == "lease expired"


async def test_renew_is_capped_by_the_backends_max_ttl(world: World) -> None:
    lease = await world.lease("db/creds/app", ttl=600, max_ttl=HOUR)
    world.engines["creds"].renew_ttl = 10 * HOUR
    renewed = await world.call(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id})
    assert renewed.lease_duration == HOUR
    world.clock.advance(HOUR)
    past = await world.error(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id})
    assert past.message == "lease expired"


async def test_renew_without_increment_takes_the_backends_ttl(world: World) -> None:
    lease = await world.lease("db/creds/app", ttl=600)
    world.engines["creds"].renew_ttl = 1200
    renewed = await world.call(Op.UPDATE, f"sys/leases/renew/{lease.lease_id}")
    assert renewed.lease_duration == 1200
    world.clock.advance(1100)
    assert await world.core.expiration.tick() == 0  # the old expiry no longer applies
    assert await world.exists(lease.lease_id)


async def test_renew_errors_have_vaults_messages(world: World) -> None:
    missing = await world.error(Op.UPDATE, "sys/leases/renew", {})
    assert missing.message == "lease_id must be specified"
    unknown = await world.error(Op.UPDATE, "sys/leases/renew", {"lease_id": "db/creds/app/nope"})
    assert isinstance(unknown, BadRequest) and unknown.message == "lease not found"


async def test_the_body_lease_id_wins_over_the_url(world: World) -> None:
    first = await world.lease("db/creds/a", ttl=600)
    second = await world.lease("db/creds/b", ttl=600)
    renewed = await world.call(Op.UPDATE, f"sys/leases/renew/{second.lease_id}", {"lease_id": first.lease_id})
    assert renewed.lease_id == first.lease_id


# --- revoke --------------------------------------------------------------------------------------


async def test_revoke_calls_the_backend_and_forgets_the_lease(world: World) -> None:
    lease = await world.lease("db/creds/app")
    response = await world.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": lease.lease_id})
    assert response.data is None and response.status is None  # 204
    assert world.engines["creds"].revoked == ["app-0"]
    assert not await world.exists(lease.lease_id)
    # Revoking what is not there is not an error.
    await world.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": lease.lease_id})
    assert world.engines["creds"].revoked == ["app-0"]


async def test_revoke_with_sync_false_is_queued(world: World) -> None:
    lease = await world.lease("db/creds/app")
    response = await world.call(Op.UPDATE, "sys/leases/revoke", {"lease_id": lease.lease_id, "sync": False})
    assert response.status == 202
    assert world.engines["creds"].revoked == []
    assert await world.core.expiration.tick() == 1
    assert world.engines["creds"].revoked == ["app-0"] and not await world.exists(lease.lease_id)


async def test_a_failing_sync_revoke_is_an_error_and_keeps_the_lease(world: World) -> None:
    lease = await world.lease("db/creds/app")
    world.engines["creds"].fail = Unreachable("database unreachable")
    error = await world.error(Op.UPDATE, "sys/leases/revoke", {"lease_id": lease.lease_id})
    assert isinstance(error, BadRequest) and error.message == "failed to revoke entry: database unreachable"
    assert await world.exists(lease.lease_id)


async def test_revoke_prefix_takes_whole_segments(world: World) -> None:
    a = await world.lease("db/creds/a")
    ab = await world.lease("db/creds/ab")
    await world.mount("db2", "creds")
    other = await world.lease("db2/creds/a")

    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/db/creds/a")
    assert not await world.exists(a.lease_id)
    assert await world.exists(ab.lease_id)  # "a" is a segment, not a string prefix
    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/db")
    assert not await world.exists(ab.lease_id)
    assert await world.exists(other.lease_id)
    assert sorted(world.engines["creds"].revoked) == ["a-0", "ab-1"]


async def test_revoke_prefix_with_an_exact_lease_id(world: World) -> None:
    one = await world.lease("db/creds/a")
    two = await world.lease("db/creds/a")
    await world.call(Op.UPDATE, f"sys/leases/revoke-prefix/{one.lease_id}")
    assert not await world.exists(one.lease_id) and await world.exists(two.lease_id)


async def test_revoke_prefix_stops_at_a_failure_and_revoke_force_does_not(world: World) -> None:
    leases = [await world.lease("db/creds/a") for _ in range(3)]
    world.engines["creds"].fail = Unreachable("database unreachable")
    error = await world.error(Op.UPDATE, "sys/leases/revoke-prefix/db/creds")
    assert isinstance(error, BadRequest)
    assert re.fullmatch(rf'failed to revoke "db/creds/a/{LEASE_ID}" \(1 / 3\): failed to revoke entry: '
                        "database unreachable", error.message)
    assert all([await world.exists(lease.lease_id) for lease in leases])

    response = await world.call(Op.UPDATE, "sys/leases/revoke-force/db/creds")
    assert response.data is None and response.status is None
    assert not any([await world.exists(lease.lease_id) for lease in leases])
    assert world.engines["creds"].revoked == []  # the backend never managed it: that is the danger


async def test_revoke_prefix_with_sync_false_queues_every_lease(world: World) -> None:
    leases = [await world.lease("db/creds/a") for _ in range(2)]
    response = await world.call(Op.UPDATE, "sys/leases/revoke-prefix/db", {"sync": False})
    assert response.status == 202 and world.engines["creds"].revoked == []
    assert await world.core.expiration.tick() == 2
    assert not any([await world.exists(lease.lease_id) for lease in leases])


@pytest.mark.parametrize(
    ("path", "with_id"),
    [("sys/renew", "body"), ("sys/renew/{id}", "url"), ("sys/revoke", "body"), ("sys/revoke/{id}", "url")],
)
async def test_vaults_older_aliases(world: World, path: str, with_id: str) -> None:
    lease = await world.lease("db/creds/app", ttl=600)
    world.engines["creds"].renew_ttl = 900
    body = {"lease_id": lease.lease_id} if with_id == "body" else {}
    response = await world.call(Op.UPDATE, path.format(id=lease.lease_id), body)
    if "renew" in path:
        assert response.lease_duration == 900
    else:
        assert not await world.exists(lease.lease_id)


async def test_older_prefix_aliases(world: World) -> None:
    first = await world.lease("db/creds/a")
    await world.call(Op.UPDATE, "sys/revoke-prefix/db/creds/a")
    assert not await world.exists(first.lease_id)
    second = await world.lease("db/creds/b")
    world.engines["creds"].fail = Unreachable("down")
    await world.call(Op.UPDATE, "sys/revoke-force/db/creds/b")
    assert not await world.exists(second.lease_id)


# --- tidy ----------------------------------------------------------------------------------------


async def test_tidy_revokes_leases_whose_token_is_gone(world: World) -> None:
    token, _ = await world.token(policies=["root"], ttl="1h")
    orphaned = await world.lease("db/creds/orphaned", token=token)
    kept = await world.lease("db/creds/kept")
    # The token vanishes without its leases being told (what tidy exists to clean up).
    lookup = (await world.call(Op.UPDATE, "auth/token/lookup", {"token": token})).data
    assert lookup is not None
    for key in await world.barrier.list("sys/token/id/"):
        raw = await world.barrier.get("sys/token/id/" + key)
        if raw is not None and lookup["accessor"].encode() in raw:
            await world.barrier.delete("sys/token/id/" + key)
    # Storage changed behind the running token store's back (its entry cache): what a restart sees.
    await world.restart()

    response = await world.call(Op.UPDATE, "sys/leases/tidy")
    assert response.status == 202
    assert response.warnings == [
        "Tidy operation successfully started. Any information from the operation will be printed to "
        "Vault's server logs."
    ]
    assert not await world.exists(orphaned.lease_id)
    assert await world.exists(kept.lease_id)
    assert world.engines["creds"].revoked == ["orphaned-0"]


async def test_irrevocable_listing_limit(world: World) -> None:
    bad = await world.error(Op.READ, "sys/leases", {"type": "irrevocable", "limit": "0"})
    assert bad.message == "limit must be 'none' or a positive integer"
    listed = (await world.call(Op.READ, "sys/leases", {"type": "irrevocable", "limit": "none"})).data
    assert listed == {"lease_count": 0, "leases": []}
    assert (await world.error(Op.READ, "sys/leases", {"type": "all"})).status == 404


# --- who may ---------------------------------------------------------------------------------------


async def test_listing_and_prefix_revocation_need_sudo(world: World) -> None:
    rules = 'path "sys/leases/*" { capabilities = ["update", "list"%s] }'
    await world.call(Op.UPDATE, "sys/policy/leases", {"policy": rules % ""})
    await world.call(Op.UPDATE, "sys/policy/leases-sudo", {"policy": rules % ', "sudo"'})
    plain, _ = await world.token(policies=["leases"], ttl="1h")
    sudo, _ = await world.token(policies=["leases-sudo"], ttl="1h")
    lease = await world.lease("db/creds/a")

    # Lookup, renew and revoke of one lease are ordinary updates...
    assert (await world.call(Op.UPDATE, "sys/leases/lookup", {"lease_id": lease.lease_id}, token=plain)).data
    # ...listing and revoking by prefix are root-protected.
    for op, path in ((Op.LIST, "sys/leases/lookup/db/"), (Op.UPDATE, "sys/leases/revoke-prefix/db"),
                     (Op.UPDATE, "sys/leases/revoke-force/db")):
        assert isinstance(await world.error(op, path, token=plain), PermissionDenied)
    assert (await world.call(Op.LIST, "sys/leases/lookup/db/", token=sudo)).data == {"keys": ["creds/"]}
    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/db", token=sudo)
    assert not await world.exists(lease.lease_id)
