"""Secret leases through the whole pipeline (Core.handle over a real barrier), with a fake clock:
issue, expiry, restart, failing revocation with backoff, irrevocable leases."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from engine.errors import BadRequest
from engine.expiration import MAX_REVOKE_ATTEMPTS
from engine.request import Op
from tests.engine.leasing import LEASE_ID, START, Unreachable, World, make_world

HOUR = 3600
SYSTEM_DEFAULT = 768 * HOUR


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    world = await make_world(monkeypatch)
    yield world
    world.barrier.seal()


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# --- issue ---------------------------------------------------------------------------------------


async def test_a_secret_gets_a_lease_in_vaults_shape(world: World) -> None:
    response = await world.lease("db/creds/app")
    assert re.fullmatch(rf"db/creds/app/{LEASE_ID}", response.lease_id)
    assert response.lease_duration == SYSTEM_DEFAULT and response.renewable is True
    assert response.secret is None  # the internal data stays with the lease
    assert response.data is not None and response.data["username"] == "app-0"

    lease = await world.lookup(response.lease_id)
    assert lease == {
        "id": response.lease_id,
        "issue_time": "2030-01-01T00:00:00Z",
        "expire_time": "2030-02-02T00:00:00Z",
        "last_renewal": None,
        "renewable": True,
        "ttl": SYSTEM_DEFAULT,
    }
    world.clock.advance(100)
    assert (await world.lookup(response.lease_id))["ttl"] == SYSTEM_DEFAULT - 100


async def test_lease_ttl_follows_the_mount_and_is_capped_by_its_max(world: World) -> None:
    await world.mount("short", "creds", {"default_lease_ttl": "1h", "max_lease_ttl": "2h"})
    assert (await world.lease("short/creds/a")).lease_duration == HOUR
    assert (await world.lease("short/creds/a", ttl="90m")).lease_duration == 90 * 60
    capped = await world.lease("short/creds/a", ttl="3h")
    assert capped.lease_duration == 2 * HOUR
    assert capped.warnings == ['TTL of "3h" exceeded the effective max_ttl of "2h"; TTL value is capped accordingly']
    # The backend's own max is a cap too.
    assert (await world.lease("short/creds/a", ttl="90m", max_ttl="1h")).lease_duration == HOUR


async def test_a_backend_that_cannot_renew_issues_non_renewable_leases(world: World) -> None:
    await world.mount("fixed", "fixed")
    response = await world.lease("fixed/creds/x")
    assert response.renewable is False and (await world.lookup(response.lease_id))["renewable"] is False
    error = await world.error(Op.UPDATE, "sys/leases/renew", {"lease_id": response.lease_id})
    assert isinstance(error, BadRequest) and error.message == "lease is not renewable"


async def test_every_lease_is_persisted_behind_the_barrier(world: World) -> None:
    response = await world.lease("db/creds/app")
    raw = await world.barrier.get(f"sys/expire/id/{response.lease_id}")
    assert raw is not None and b'"username":"app-0"' in raw  # internal data, kept for revocation
    assert b"not-a-real-password" not in raw  # the secret itself is not kept
    assert world.root.encode() not in raw  # nor the token in clear


# --- expiry --------------------------------------------------------------------------------------


async def test_expiry_revokes_through_the_backend(world: World) -> None:
    short = await world.lease("db/creds/short", ttl=60)
    long = await world.lease("db/creds/long", ttl=HOUR)
    world.clock.advance(59)
    assert await world.core.expiration.tick() == 0
    assert world.engines["creds"].revoked == []

    world.clock.advance(1)
    assert await world.core.expiration.tick() == 1
    assert world.engines["creds"].revoked == ["short-0"]
    assert not await world.exists(short.lease_id)
    assert await world.exists(long.lease_id)


async def test_a_restart_revokes_what_expired_while_down(world: World) -> None:
    expired = await world.lease("db/creds/a", ttl=60)
    alive = await world.lease("db/creds/b", ttl=HOUR)
    await world.core.teardown()
    world.clock.advance(120)  # the daemon is down

    await world.restart()
    # Setup reads no lease: the schedule is restored in the background (or, here, by the first tick).
    assert world.core.expiration.restoring and len(world.core.expiration) == 0
    assert await world.core.expiration.tick() == 1
    assert len(world.core.expiration) == 1
    assert world.engines["creds"].revoked == ["a-0"]
    assert not await world.exists(expired.lease_id)
    assert (await world.lookup(alive.lease_id))["ttl"] == HOUR - 120


async def test_a_lease_renewed_before_a_restart_keeps_its_new_expiry(world: World) -> None:
    lease = await world.lease("db/creds/a", ttl=60)
    world.engines["creds"].renew_ttl = HOUR
    await world.call(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id})
    await world.restart()
    world.clock.advance(120)
    assert await world.core.expiration.tick() == 0
    assert await world.exists(lease.lease_id)


# --- failing revocation --------------------------------------------------------------------------


async def test_a_failing_revocation_is_retried_with_backoff_and_shown(world: World) -> None:
    engine = world.engines["creds"]
    lease = await world.lease("db/creds/app", ttl=10)
    engine.fail = Unreachable("database unreachable")
    world.clock.advance(10)
    await world.core.expiration.tick()

    shown = await world.lookup(lease.lease_id)
    assert shown["revoke_attempts"] == 1 and shown["irrevocable"] is False
    assert "database unreachable" in shown["revoke_error"]
    retry_at = at(shown["next_revoke_attempt"])
    # Vault's backoff: 10s * 2^attempt, within +-50%.
    assert 10 <= retry_at - world.clock.now.timestamp() <= 30

    previous_wait = retry_at - world.clock.now.timestamp()
    for attempt in (2, 3):
        world.clock.now = datetime.fromtimestamp(retry_at - 1, world.clock.now.tzinfo)
        await world.core.expiration.tick()
        assert (await world.lookup(lease.lease_id))["revoke_attempts"] == attempt - 1  # not due yet
        world.clock.advance(1)
        await world.core.expiration.tick()
        shown = await world.lookup(lease.lease_id)
        assert shown["revoke_attempts"] == attempt
        retry_at = at(shown["next_revoke_attempt"])
        wait = retry_at - world.clock.now.timestamp()
        assert 10 * 2**attempt * 0.5 <= wait <= 10 * 2**attempt * 1.5
        assert wait > previous_wait / 3  # growing, jitter allowing
        previous_wait = wait

    engine.fail = None
    world.clock.now = datetime.fromtimestamp(retry_at, world.clock.now.tzinfo)
    await world.core.expiration.tick()
    assert engine.revoked == ["app-0"] and not await world.exists(lease.lease_id)


async def test_after_six_attempts_a_lease_is_irrevocable_but_kept_and_counted(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    engine = world.engines["creds"]
    lease = await world.lease("db/creds/app", ttl=10)
    engine.fail = Unreachable("database unreachable")
    world.clock.advance(10)
    with caplog.at_level(logging.ERROR, logger="engine.expiration"):
        for _ in range(MAX_REVOKE_ATTEMPTS):
            await world.core.expiration.tick()
            shown = await world.lookup(lease.lease_id)
            if shown["irrevocable"]:
                break
            world.clock.now = datetime.fromtimestamp(at(shown["next_revoke_attempt"]), world.clock.now.tzinfo)
    assert shown["revoke_attempts"] == MAX_REVOKE_ATTEMPTS and shown["irrevocable"] is True
    assert shown["revoke_error"].startswith("out of retries: failed to revoke entry: database unreachable")
    assert shown["renewable"] is False
    assert any("irrevocable" in r.message and r.levelno == logging.ERROR for r in caplog.records)
    assert "not-a-real-password" not in caplog.text

    accessor = (await world.call(Op.READ, "sys/mounts/db")).data["accessor"]  # type: ignore[index]
    counted = (await world.call(Op.READ, "sys/leases/count", {"type": "irrevocable"})).data
    assert counted == {"lease_count": 1, "counts": {accessor: 1}}
    listed = (await world.call(Op.READ, "sys/leases", {"type": "irrevocable"})).data
    assert listed is not None and listed["lease_count"] == 1
    assert listed["leases"][0]["lease_id"] == lease.lease_id and listed["leases"][0]["mount_id"] == accessor
    assert listed["leases"][0]["error"].startswith("out of retries")
    renew = await world.error(Op.UPDATE, "sys/leases/renew", {"lease_id": lease.lease_id})
    assert renew.message == "lease is expired and has failed previous revocation attempts"

    # Still retried, daily, and gone once the backend answers again.
    engine.fail = None
    world.clock.advance(23 * HOUR)
    await world.core.expiration.tick()
    assert await world.exists(lease.lease_id)
    world.clock.advance(HOUR)
    await world.core.expiration.tick()
    assert engine.revoked == ["app-0"] and not await world.exists(lease.lease_id)
    counted = (await world.call(Op.READ, "sys/leases/count", {"type": "irrevocable"})).data
    assert counted == {"lease_count": 0, "counts": {}}


async def test_an_irrevocable_lease_survives_a_restart(world: World) -> None:
    engine = world.engines["creds"]
    lease = await world.lease("db/creds/app", ttl=10)
    engine.fail = Unreachable("down")
    world.clock.advance(10)
    for _ in range(MAX_REVOKE_ATTEMPTS):
        await world.core.expiration.tick()
        shown = await world.lookup(lease.lease_id)
        if shown["irrevocable"]:
            break
        world.clock.now = datetime.fromtimestamp(at(shown["next_revoke_attempt"]), world.clock.now.tzinfo)
    await world.restart()
    await world.core.expiration.load()  # counts follow the restore, as in Vault (partial until it is done)
    counted = (await world.call(Op.READ, "sys/leases/count", {"type": "irrevocable"})).data
    assert counted is not None and counted["lease_count"] == 1


async def test_count_all_leases_per_mount(world: World) -> None:
    await world.mount("other", "creds")
    for path in ("db/creds/a", "db/creds/b", "other/creds/c"):
        await world.lease(path)
    counts = (await world.call(Op.READ, "sys/leases/count", {"type": "all"})).data
    db = (await world.call(Op.READ, "sys/mounts/db")).data["accessor"]  # type: ignore[index]
    other = (await world.call(Op.READ, "sys/mounts/other")).data["accessor"]  # type: ignore[index]
    assert counts == {"lease_count": 3, "counts": {db: 2, other: 1}}
    # Vault answers nothing for other types.
    assert (await world.error(Op.READ, "sys/leases/count", {"type": "bogus"})).status == 404


async def test_issue_times_come_from_the_clock(world: World) -> None:
    world.clock.advance(HOUR)
    lease = await world.lease("db/creds/a", ttl=60)
    shown = await world.lookup(lease.lease_id)
    assert at(shown["issue_time"]) == START.timestamp() + HOUR
    assert at(shown["expire_time"]) == START.timestamp() + HOUR + 60
