"""sys/auth through Core.handle over the real barrier: listing in Vault's shape, enabling with Vault's
refusals, reading, tuning (and its effect on login tokens), disabling (which revokes the method's tokens
and deletes its data), and persistence of the auth table."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest

from engine.errors import BadRequest, NotFound, PermissionDenied
from engine.request import Op
from engine.storage.view import all_keys
from tests.engine.auth_harness import Engine, make_engine
from tests.engine.core_harness import MOUNT_INFO_KEYS


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    yield engine
    engine.barrier.seal()


async def auth_table(engine: Engine) -> dict[str, dict]:  # type: ignore[type-arg]
    data = (await engine.call(Op.READ, "sys/auth")).data
    assert data is not None
    return data


async def user_token(engine: Engine, mount: str = "userpass", name: str = "bob") -> str:
    await engine.call(Op.UPDATE, f"auth/{mount}/users/{name}", {"password": "pw"})
    return str((await engine.login(f"auth/{mount}/login/{name}", {"password": "pw"}))["client_token"])


async def test_the_token_method_is_listed_in_vaults_shape(engine: Engine) -> None:
    table = await auth_table(engine)
    assert set(table) == {"token/"}
    token = table["token/"]
    assert set(token) == MOUNT_INFO_KEYS
    assert token["type"] == "token" and token["description"] == "token based credentials"
    assert re.fullmatch(r"auth_token_[0-9a-f]{8}", token["accessor"])
    assert token["config"] == {
        "default_lease_ttl": 0,
        "max_lease_ttl": 0,
        "force_no_cache": False,
        "token_type": "default-service",
    }
    # Auth methods are not secret engines.
    assert "auth/token/" not in ((await engine.call(Op.READ, "sys/mounts")).data or {})


async def test_enable_lists_and_reads_an_auth_method(engine: Engine) -> None:
    body = {"type": "userpass", "description": "people", "config": {"default_lease_ttl": "1h", "token_type": "service"}}
    assert (await engine.call(Op.UPDATE, "sys/auth/people", body)).data is None
    info = (await auth_table(engine))["people/"]
    assert info["type"] == "userpass" and info["description"] == "people"
    assert re.fullmatch(r"auth_userpass_[0-9a-f]{8}", info["accessor"])
    assert info["config"]["default_lease_ttl"] == 3600 and info["config"]["token_type"] == "service"
    assert (await engine.call(Op.READ, "sys/auth/people")).data == info
    error = await engine.error(Op.READ, "sys/auth/absent")
    assert isinstance(error, BadRequest) and error.message == "No auth engine at absent/"
    # The method answers at auth/<path>, and its default TTL shapes its logins' tokens.
    await engine.call(Op.UPDATE, "auth/people/users/bob", {"password": "pw"})
    assert (await engine.login("auth/people/login/bob", {"password": "pw"}))["lease_duration"] == 3600


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("tok", {"type": "token"}, "token credential backend cannot be instantiated"),
        ("x", {"type": "no-such-method"}, "plugin not found in the catalog: no-such-method"),
        ("kv", {"type": "kv"}, "plugin not found in the catalog: kv"),
        ("up/inner", {"type": "userpass"}, "path is already in use at up/"),
        ("up", {"type": "approle"}, "path is already in use at up/"),
        ("typeless", {}, "backend type must be specified as a string"),
        (
            "v",
            {"type": "userpass", "options": {"version": "2"}},
            'auth method "userpass" does not allow setting a version',
        ),
        ("t", {"type": "userpass", "config": {"token_type": "odd"}}, "invalid value for 'token_type'"),
        ("l", {"type": "userpass", "config": {"listing_visibility": "loud"}}, "invalid listing_visibility loud"),
        ("d", {"type": "userpass", "config": {"default_lease_ttl": "2h", "max_lease_ttl": "1h"}}, "default lease TTL"),
    ],
)
async def test_refused_auth_mounts(engine: Engine, path: str, body: dict[str, object], message: str) -> None:
    await engine.enable_auth("up", "userpass")
    error = await engine.error(Op.UPDATE, f"sys/auth/{path}", body)
    assert isinstance(error, BadRequest) and message in error.message
    assert f"{path}/" not in await auth_table(engine) or path == "up"


async def test_auth_types_cannot_be_mounted_as_secret_engines(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "sys/mounts/people", {"type": "userpass"})
    assert isinstance(error, BadRequest) and error.message == "plugin not found in the catalog: userpass"


async def test_disable_revokes_the_methods_tokens_and_deletes_its_data(engine: Engine) -> None:
    await engine.enable_auth("userpass", "userpass")
    await engine.enable_auth("others", "userpass")
    token = await user_token(engine)
    kept = await user_token(engine, "others")
    uuid = (await auth_table(engine))["userpass/"]["uuid"]
    assert await all_keys(engine.physical, f"auth/{uuid}/")
    assert (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data

    assert (await engine.call(Op.DELETE, "sys/auth/userpass")).data is None
    assert "userpass/" not in await auth_table(engine)
    assert await all_keys(engine.physical, f"auth/{uuid}/") == []
    assert isinstance(await engine.error(Op.READ, "auth/token/lookup-self", token=token), PermissionDenied)
    assert (await engine.call(Op.READ, "auth/token/lookup-self", token=kept)).data  # another mount's token
    error = await engine.error(Op.UPDATE, "auth/userpass/login/bob", {"password": "pw"}, token=None)
    assert isinstance(error, PermissionDenied)  # no login path any more, and no token
    # Enabling the path again starts empty.
    await engine.enable_auth("userpass", "userpass")
    assert isinstance(await engine.error(Op.READ, "auth/userpass/users/bob"), NotFound)


async def test_disable_quietly_accepts_what_is_not_mounted_but_never_the_token_store(engine: Engine) -> None:
    assert (await engine.call(Op.DELETE, "sys/auth/never-enabled")).data is None
    error = await engine.error(Op.DELETE, "sys/auth/token")
    assert isinstance(error, BadRequest) and error.message == "token credential backend cannot be disabled"


async def test_tune_reads_and_changes_the_settings_logins_get(engine: Engine) -> None:
    await engine.enable_auth("userpass", "userpass")
    assert (await engine.call(Op.READ, "sys/auth/userpass/tune")).data == {
        "description": "",
        "default_lease_ttl": 2764800,
        "max_lease_ttl": 2764800,
        "force_no_cache": False,
        "token_type": "default-service",
    }
    body = {"default_lease_ttl": 1800, "max_lease_ttl": "2h", "description": "humans", "listing_visibility": "unauth"}
    assert (await engine.call(Op.UPDATE, "sys/auth/userpass/tune", body)).data is None
    tuned = (await engine.call(Op.READ, "sys/auth/userpass/tune")).data or {}
    assert (tuned["default_lease_ttl"], tuned["max_lease_ttl"], tuned["description"]) == (1800, 7200, "humans")
    assert tuned["listing_visibility"] == "unauth"
    # The same settings through sys/mounts/auth/<path>/tune, as Vault allows.
    assert (await engine.call(Op.READ, "sys/mounts/auth/userpass/tune")).data == tuned
    await engine.call(Op.UPDATE, "auth/userpass/users/bob", {"password": "pw", "token_ttl": "10h"})
    auth = await engine.login("auth/userpass/login/bob", {"password": "pw"})
    assert auth["lease_duration"] == 7200  # capped by the tuned max

    await engine.call(Op.UPDATE, "sys/mounts/auth/userpass/tune", {"default_lease_ttl": "system", "max_lease_ttl": ""})
    tuned = (await engine.call(Op.READ, "sys/auth/userpass/tune")).data or {}
    assert (tuned["default_lease_ttl"], tuned["max_lease_ttl"]) == (2764800, 7200)


async def test_tuning_the_token_type_and_lockout(engine: Engine) -> None:
    await engine.enable_auth("userpass", "userpass")
    await engine.call(Op.UPDATE, "sys/auth/userpass/tune", {"token_type": "default-batch"})
    body = {"user_lockout_config": {"lockout_threshold": 3, "lockout_duration": "10m", "lockout_disable": "false"}}
    await engine.call(Op.UPDATE, "sys/auth/userpass/tune", body)
    tuned = (await engine.call(Op.READ, "sys/auth/userpass/tune")).data or {}
    assert tuned["token_type"] == "default-batch"
    assert (tuned["user_lockout_threshold"], tuned["user_lockout_duration"]) == (3, 600)
    assert (tuned["user_lockout_counter_reset_duration"], tuned["user_lockout_disable"]) == (0, False)
    info = (await auth_table(engine))["userpass/"]["config"]
    assert info["token_type"] == "default-batch" and info["user_lockout_config"]["user_lockout_threshold"] == 3
    await engine.call(Op.UPDATE, "auth/userpass/users/bob", {"password": "pw"})
    assert (await engine.login("auth/userpass/login/bob", {"password": "pw"}))["token_type"] == "batch"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("sys/auth/userpass/tune", {"max_lease_ttl": "1h", "default_lease_ttl": "2h"},
         "backend max lease TTL of 3600 would be less than backend default lease TTL of 7200"),
        ("sys/auth/userpass/tune", {"default_lease_ttl": "soon"}, 'time: invalid duration "soon"'),
        ("sys/auth/userpass/tune", {"token_type": "odd"}, "invalid value for 'token_type'"),
        ("sys/auth/token/tune", {"token_type": "batch"},
         "'token_type' cannot be set for 'token' or 'ns_token' auth mounts"),
        ("sys/mounts/secret/tune", {"token_type": "batch"}, "'token_type' can only be modified on auth mounts"),
        ("sys/mounts/secret/tune", {"user_lockout_config": {"lockout_threshold": "1"}},
         'tuning of user lockout configuration for auth type "kv" not allowed'),
        ("sys/auth/userpass/tune", {"user_lockout_config": {"lockout_threshold": "many"}},
         'unable to parse user lockout threshold'),
        ("sys/auth/absent/tune", {"description": "x"}, 'tune of path "auth/absent/" failed: no mount entry found'),
        ("sys/auth/userpass/tune", {"listing_visibility": "loud"}, "invalid listing_visibility loud"),
    ],
)  # fmt: skip
async def test_refused_tunes_change_nothing(engine: Engine, path: str, body: dict[str, object], message: str) -> None:
    await engine.enable_auth("userpass", "userpass")
    before = (await engine.call(Op.READ, "sys/auth/userpass/tune")).data
    error = await engine.error(Op.UPDATE, path, body)
    assert isinstance(error, BadRequest) and message in error.message
    assert (await engine.call(Op.READ, "sys/auth/userpass/tune")).data == before


async def test_the_auth_table_and_its_users_persist_behind_the_barrier(engine: Engine) -> None:
    await engine.enable_auth("userpass", "userpass", description="kept")
    await engine.call(Op.UPDATE, "sys/auth/userpass/tune", {"default_lease_ttl": "1h"})
    await engine.call(Op.UPDATE, "auth/userpass/users/bob", {"password": "pw"})
    before = await auth_table(engine)
    stored = await engine.physical.get("core/auth")
    assert stored is not None and b"userpass" not in stored  # encrypted by the barrier
    table = await engine.barrier.get("core/auth")
    assert table is not None and json.loads(table)["type"] == "auth"

    again = await engine.restart()
    assert await auth_table(again) == before
    assert (await again.login("auth/userpass/login/bob", {"password": "pw"}))["lease_duration"] == 3600
