"""sys/mounts/<path>/tune (POST), disabling a mount with leases, and sys/remount for secret engines
and auth methods, through Core.handle over the real barrier with the real expiration manager (the
leasing engine of tests/engine/leasing.py issues the leases)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.backends.mount_tune import TUNE_FIELDS, tune
from engine.errors import BadRequest, NotFound, PermissionDenied
from engine.framework import Backend, FieldData
from engine.mounts import BackendFactory, MountEntry, MountManager
from engine.request import Op
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from tests.engine.auth_harness import Engine, make_engine
from tests.engine.leasing import World, make_world


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    yield engine
    engine.barrier.seal()


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return await make_world(monkeypatch)


async def mounts(engine: Engine | World) -> dict[str, dict]:  # type: ignore[type-arg]
    data = (await engine.call(Op.READ, "sys/mounts")).data
    assert data is not None
    return data


# --- tune ------------------------------------------------------------------------------------------


async def test_tune_changes_ttls_and_description_and_the_engine_sees_them(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/app", {"type": "kv"})
    await engine.call(Op.UPDATE, "app/db", {"pw": "x"})
    body = {"default_lease_ttl": "1h", "max_lease_ttl": 7200, "description": "tuned"}
    assert (await engine.call(Op.UPDATE, "sys/mounts/app/tune", body)).data is None
    assert (await engine.call(Op.READ, "sys/mounts/app/tune")).data == {
        "description": "tuned",
        "default_lease_ttl": 3600,
        "max_lease_ttl": 7200,
        "force_no_cache": False,
    }
    info = (await mounts(engine))["app/"]
    assert info["description"] == "tuned" and info["config"]["default_lease_ttl"] == 3600
    assert (await engine.call(Op.READ, "app/db")).lease_duration == 3600
    # "system" goes back to the default; "" (or leaving it out) keeps the current value.
    await engine.call(Op.UPDATE, "sys/mounts/app/tune", {"default_lease_ttl": "system", "max_lease_ttl": ""})
    assert (await engine.call(Op.READ, "app/db")).lease_duration == 768 * 3600
    assert (await mounts(engine))["app/"]["config"]["max_lease_ttl"] == 7200
    again = await engine.restart()
    assert (await mounts(again))["app/"]["description"] == "tuned"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("sys", {"description": "x"}, 'cannot tune "sys/"'),
        ("nowhere", {"description": "x"}, 'tune of path "nowhere/" failed: no mount entry found'),
        ("secret", {"max_lease_ttl": "1m", "default_lease_ttl": "2m"}, "would be less than backend default"),
        ("secret", {"max_lease_ttl": "1x"}, 'time: invalid duration "1x"'),
        ("secret", {"options": {"version": "3"}}, "invalid version provided: 3"),
    ],
)
async def test_refused_tunes(engine: Engine, path: str, body: dict[str, object], message: str) -> None:
    before = await mounts(engine)
    error = await engine.error(Op.UPDATE, f"sys/mounts/{path}/tune", body)
    assert isinstance(error, BadRequest) and message in error.message
    assert await mounts(engine) == before


class VersionedKv(Backend):
    """Stands in for a KV engine that has both versions: records the version it was built for."""

    def __init__(self, entry: MountEntry, built: list[str]) -> None:
        self.paths = []
        built.append((entry.options or {}).get("version", ""))


async def test_a_kv_version_upgrade_rebuilds_the_engine_and_a_downgrade_is_refused() -> None:
    built: list[str] = []
    factories: dict[str, BackendFactory] = {
        "kv": lambda entry: VersionedKv(entry, built),
        "system": lambda entry: Backend(),
        "token": lambda entry: Backend(),
    }
    manager = MountManager(MemoryStorage(), factories)
    await manager.load()
    await manager.enable(MountEntry("app/", "kv", options={"version": "1"}))
    built.clear()
    response = await tune(manager, "app", FieldData({"options": {"version": "2"}}, TUNE_FIELDS))
    assert response is not None and response.warnings == [
        "Upgrading mount from version 1 to version 2. This mount will be unavailable for a brief period and "
        "will resume service shortly."
    ]
    route = manager.router.get("app/")
    assert route is not None and isinstance(route.backend, VersionedKv) and built[-1] == "2"
    with pytest.raises(BadRequest, match=r"^cannot downgrade mount from version 2$"):
        await tune(manager, "app", FieldData({"options": {"version": "1"}}, TUNE_FIELDS))


async def test_options_are_merged_and_an_empty_value_removes_one(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/opt", {"type": "kv", "options": {"a": "1"}})
    await engine.call(Op.UPDATE, "sys/mounts/opt/tune", {"options": {"b": "2", "version": "1"}})
    assert (await mounts(engine))["opt/"]["options"] == {"a": "1", "b": "2", "version": "1"}
    await engine.call(Op.UPDATE, "sys/mounts/opt/tune", {"options": {"a": ""}})
    assert (await mounts(engine))["opt/"]["options"] == {"b": "2", "version": "1"}
    error = await engine.error(Op.UPDATE, "sys/mounts/opt/tune", {"options": {"version": "0"}})
    assert isinstance(error, BadRequest) and error.message == "invalid version provided: 0"


# --- disable ---------------------------------------------------------------------------------------


async def test_disabling_a_secret_engine_revokes_its_leases(world: World) -> None:
    await world.mount("other", "creds")
    first = await world.lease("db/creds/app")
    second = await world.lease("db/creds/web")
    kept = await world.lease("other/creds/app")
    await world.call(Op.DELETE, "sys/mounts/db")
    assert world.engines["creds"].revoked == ["app-0", "web-1"]
    for response in (first, second):
        assert not await world.exists(response.lease_id)
    assert await world.exists(kept.lease_id)


# --- remount ---------------------------------------------------------------------------------------


async def test_remount_moves_a_secret_engine_with_its_data(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/old", {"type": "kv", "description": "moving"})
    await engine.call(Op.UPDATE, "old/a/b", {"v": 1})
    uuid = (await mounts(engine))["old/"]["uuid"]

    response = await engine.call(Op.UPDATE, "sys/remount", {"from": "old", "to": "new/place"})
    migration_id = (response.data or {})["migration_id"]
    assert response.warnings and "migration_id" in response.warnings[0]
    status = (await engine.call(Op.READ, f"sys/remount/status/{migration_id}")).data
    assert status == {
        "migration_id": migration_id,
        "migration_info": {"source_mount": "old/", "target_mount": "new/place/", "status": "success"},
    }
    table = await mounts(engine)
    assert "old/" not in table and table["new/place/"]["uuid"] == uuid
    assert table["new/place/"]["description"] == "moving"
    assert (await engine.call(Op.READ, "new/place/a/b")).data == {"v": 1}
    assert isinstance(await engine.error(Op.READ, "old/a/b"), NotFound)
    assert await all_keys(engine.physical, f"logical/{uuid}/")  # the data did not move
    assert isinstance(await engine.error(Op.READ, "sys/remount/status/unknown"), NotFound)
    again = await engine.restart()
    assert (await again.call(Op.READ, "new/place/a/b")).data == {"v": 1}


async def test_remount_revokes_the_leases_issued_under_the_old_path(world: World) -> None:
    lease = await world.lease("db/creds/app")
    await world.call(Op.UPDATE, "sys/remount", {"from": "db", "to": "database"})
    assert world.engines["creds"].revoked == ["app-0"]
    assert not await world.exists(lease.lease_id)
    fresh = await world.lease("database/creds/app")
    assert fresh.lease_id.startswith("database/creds/app/")


async def test_remount_moves_an_auth_method_and_revokes_its_tokens(engine: Engine) -> None:
    await engine.enable_auth("people", "userpass")
    await engine.call(Op.UPDATE, "auth/people/users/bob", {"password": "pw"})
    token = (await engine.login("auth/people/login/bob", {"password": "pw"}))["client_token"]
    await engine.call(Op.UPDATE, "sys/remount", {"from": "auth/people", "to": "auth/humans"})
    auth = (await engine.call(Op.READ, "sys/auth")).data or {}
    assert "people/" not in auth and auth["humans/"]["type"] == "userpass"
    assert isinstance(await engine.error(Op.READ, "auth/token/lookup-self", token=token), PermissionDenied)
    # The users came along.
    await engine.login("auth/humans/login/bob", {"password": "pw"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"from": "secret"}, "both 'from' and 'to' path must be specified as a string"),
        ({"from": "secret ", "to": "x"}, "'from' path cannot contain trailing whitespace"),
        ({"from": "secret", "to": " x"}, "'to' path cannot contain trailing whitespace"),
        (
            {"from": "secret", "to": "a//b"},
            "invalid destination mount: path 'a//b/' does not match cleaned path 'a/b/'",
        ),
        ({"from": "secret", "to": "a/../sys"}, "invalid destination mount"),
        ({"from": "nothing", "to": "x"}, 'no matching mount at "nothing/"'),
        ({"from": "secret/inner", "to": "x"}, 'no matching mount at "secret/inner/"'),
        ({"from": "secret", "to": "other/deep"}, 'path already in use at "other/"'),
        ({"from": "secret", "to": "sys/x"}, "cannot remount to destination sys/x/"),
        ({"from": "sys", "to": "system"}, 'cannot remount "sys/"'),
        ({"from": "secret", "to": "auth/kv"}, "cannot remount to destination auth/kv/"),
        ({"from": "auth/people", "to": "people"}, 'cannot remount auth mount to non-auth mount "people/"'),
        ({"from": "auth/token", "to": "auth/tokens"}, 'cannot remount "auth/token/"'),
        ({"from": "auth/people", "to": "auth/token2"}, 'cannot remount to destination "auth/token2/"'),
    ],
)
async def test_refused_remounts_change_nothing(engine: Engine, body: dict[str, str], message: str) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/other", {"type": "kv"})
    await engine.enable_auth("people", "userpass")
    before = (await mounts(engine), (await engine.call(Op.READ, "sys/auth")).data)
    error = await engine.error(Op.UPDATE, "sys/remount", body)
    assert isinstance(error, BadRequest) and message in error.message
    assert (await mounts(engine), (await engine.call(Op.READ, "sys/auth")).data) == before
