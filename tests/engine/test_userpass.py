"""The userpass auth method through Core.handle over the real barrier: users, login to a usable token,
password hashing (never in clear), Vault's answers for bad credentials, user lockout with a fake clock,
CIDR binding, and the renewal check."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import argon2
import pytest

from engine.backends.passwords import PasswordHasher
from engine.backends.userpass import UserEntry, UserpassBackend
from engine.errors import BadRequest, NotFound, PermissionDenied
from engine.mounts import MountEntry
from engine.request import Auth, Op, Request
from engine.storage.memory import MemoryStorage
from tests.engine.auth_harness import Engine, make_engine
from tests.engine.core_harness import Clock

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    await engine.enable_auth("userpass", "userpass")
    yield engine
    engine.barrier.seal()


async def add_user(engine: Engine, name: str = "bob", **body: object) -> None:
    await engine.call(Op.UPDATE, f"auth/userpass/users/{name}", {"password": PASSWORD, **body})


async def login_error(engine: Engine, name: str, password: str, remote: str = "10.1.2.3") -> Exception:
    return await engine.error(
        Op.UPDATE, f"auth/userpass/login/{name}", {"password": password}, token=None, remote=remote
    )


# --- users -----------------------------------------------------------------------------------------


async def test_users_are_created_read_listed_and_deleted_in_vaults_shape(engine: Engine) -> None:
    await add_user(engine, "Bob", policies="Dev, ops", token_ttl="1h", token_bound_cidrs="10.0.0.0/8,127.0.0.1")
    data = (await engine.call(Op.READ, "auth/userpass/users/bob")).data
    assert data == {
        "token_bound_cidrs": ["10.0.0.0/8", "127.0.0.1"],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 0,
        "token_no_default_policy": False,
        "token_num_uses": 0,
        "token_period": 0,
        "token_policies": ["dev", "ops"],
        "token_type": "default",
        "token_ttl": 3600,
        "policies": ["dev", "ops"],  # hvac sends the deprecated "policies": shown as Vault does
    }
    await add_user(engine, "alice", token_policies=["a"])
    assert (await engine.call(Op.LIST, "auth/userpass/users")).data == {"keys": ["alice", "bob"]}
    assert "policies" not in ((await engine.call(Op.READ, "auth/userpass/users/alice")).data or {})

    assert (await engine.call(Op.DELETE, "auth/userpass/users/BOB")).data is None
    assert isinstance(await engine.error(Op.READ, "auth/userpass/users/bob"), NotFound)
    assert (await engine.call(Op.LIST, "auth/userpass/users")).data == {"keys": ["alice"]}


async def test_creating_a_user_needs_a_password_and_an_update_keeps_it(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "auth/userpass/users/bob", {"policies": "dev"})
    assert isinstance(error, BadRequest) and error.message == "missing password"
    await add_user(engine)
    await engine.call(Op.UPDATE, "auth/userpass/users/bob", {"token_policies": "ops"})
    auth = await engine.login("auth/userpass/login/bob", {"password": PASSWORD})
    assert auth["policies"] == ["default", "ops"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"token_type": "default-service"}, "invalid 'token_type' value \"default-service\""),
        ({"token_type": "batch", "token_num_uses": 3}, "limited use count"),
        ({"token_type": "batch", "token_period": "1h"}, "generate periodic tokens"),
        ({"token_ttl": "2h", "token_max_ttl": "1h"}, "'token_ttl' cannot be greater than 'token_max_ttl'"),
        ({"token_num_uses": -1}, "'token_num_uses' cannot be negative"),
        ({"token_bound_cidrs": "10.0.0.300/8"}, 'unable to parse address "10.0.0.300/8"'),
    ],
)
async def test_token_settings_are_validated(engine: Engine, body: dict[str, object], message: str) -> None:
    error = await engine.error(Op.UPDATE, "auth/userpass/users/bob", {"password": PASSWORD, **body})
    assert isinstance(error, BadRequest) and message in error.message
    assert isinstance(await engine.error(Op.READ, "auth/userpass/users/bob"), NotFound)


async def test_the_password_is_never_stored_or_shown_in_clear(engine: Engine) -> None:
    await add_user(engine)
    await engine.call(Op.UPDATE, "auth/userpass/users/bob/password", {"password": "second secret"})
    stored = await engine.stored_values()
    for password in (PASSWORD, "second secret"):
        assert not any(password.encode() in value for value in stored)
    # What is kept is an argon2id hash, readable behind the barrier only as such.
    uuid = (await engine.call(Op.READ, "sys/auth")).data["userpass/"]["uuid"]  # type: ignore[index]
    raw = await engine.barrier.get(f"auth/{uuid}/user/bob")
    assert raw is not None and UserEntry.from_json(raw).password_hash.startswith("$argon2id$")
    assert "password" not in repr(UserEntry.from_json(raw)) and "argon2" not in repr(UserEntry.from_json(raw))
    shown = (await engine.call(Op.READ, "auth/userpass/users/bob")).data or {}
    assert not any("password" in key for key in shown)


async def test_password_and_policies_endpoints(engine: Engine) -> None:
    await add_user(engine, policies="dev")
    await engine.call(Op.UPDATE, "auth/userpass/users/bob/password", {"password": "new one"})
    assert (await login_error(engine, "bob", PASSWORD)).message == "invalid username or password"
    await engine.login("auth/userpass/login/bob", {"password": "new one"})

    await engine.call(Op.UPDATE, "auth/userpass/users/bob/policies", {"token_policies": "Ops,audit"})
    data = (await engine.call(Op.READ, "auth/userpass/users/bob")).data or {}
    assert data["token_policies"] == ["audit", "ops"] and "policies" not in data
    for path, message in (("password", "missing password"), ("policies", "username does not exist")):
        target = "bob" if path == "password" else "nobody"
        error = await engine.error(Op.UPDATE, f"auth/userpass/users/{target}/{path}", {"policies": "x"})
        assert isinstance(error, BadRequest) and error.message == message


# --- login -----------------------------------------------------------------------------------------


async def test_login_needs_no_token_and_gives_a_token_bound_to_the_users_policies(engine: Engine) -> None:
    await engine.put_policy("reader", 'path "secret/team/*" { capabilities = ["read"] }')
    await add_user(engine, policies="reader", token_ttl="1h")
    await engine.call(Op.UPDATE, "secret/team/db", {"password": "s3"})

    auth = await engine.login("auth/userpass/login/BOB", {"password": PASSWORD})
    assert re.fullmatch(r"hvs\.\w+", auth["client_token"])
    assert auth["policies"] == ["default", "reader"] and auth["token_policies"] == ["default", "reader"]
    assert auth["metadata"] == {"username": "bob"}
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    assert auth["token_type"] == "service" and auth["orphan"] is True

    token = auth["client_token"]
    me = (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data or {}
    assert me["display_name"] == "userpass-bob" and me["path"] == "auth/userpass/login/BOB"
    assert me["meta"] == {"username": "bob"}
    assert (await engine.call(Op.READ, "secret/team/db", token=token)).data == {"password": "s3"}
    assert isinstance(await engine.error(Op.UPDATE, "secret/team/db", {"x": 1}, token=token), PermissionDenied)
    assert isinstance(await engine.error(Op.READ, "auth/userpass/users/bob", token=token), PermissionDenied)
    # Without a token nothing but the login path is open.
    assert isinstance(await engine.error(Op.READ, "auth/userpass/users/bob", token=None), PermissionDenied)


@pytest.mark.parametrize("name", ["bob", "nobody"])
async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(engine: Engine, name: str) -> None:
    await add_user(engine)
    error = await login_error(engine, name, "wrong")
    assert isinstance(error, BadRequest) and error.status == 400
    assert error.message == "invalid username or password"
    error = await engine.error(Op.UPDATE, "auth/userpass/login/bob", {}, token=None)
    assert isinstance(error, BadRequest) and error.message == "missing password"


class CountingArgon2(argon2.PasswordHasher):
    """argon2's own hasher, counting the verifications it is asked for."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


async def test_an_unknown_user_costs_a_full_password_check() -> None:
    counting = CountingArgon2()
    backend = UserpassBackend(MountEntry("auth/userpass/", "userpass"), Clock(), PasswordHasher(counting))
    storage = MemoryStorage()
    for name in ("nobody", "someone-else"):
        before = counting.verified
        with pytest.raises(BadRequest, match="invalid username or password"):
            await backend.handle(_login_request(name, "guess"), storage)
        assert counting.verified == before + 1


def _login_request(name: str, password: str) -> Request:
    return Request(Op.UPDATE, f"login/{name}", {"password": password})


async def test_token_bound_cidrs_limit_where_the_user_may_log_in_from(engine: Engine) -> None:
    await add_user(engine, token_bound_cidrs="10.0.0.0/8")
    error = await login_error(engine, "bob", PASSWORD, remote="192.168.0.7")
    assert isinstance(error, PermissionDenied) and error.message == "permission denied"
    await engine.login("auth/userpass/login/bob", {"password": PASSWORD}, remote="10.9.9.9")


# --- lockout ---------------------------------------------------------------------------------------


async def fail(engine: Engine, times: int, name: str = "bob") -> None:
    for _ in range(times):
        error = await login_error(engine, name, "wrong")
        assert error.message == "invalid username or password"


async def test_five_failures_lock_the_user_for_fifteen_minutes(engine: Engine) -> None:
    await add_user(engine)
    await fail(engine, 5)
    # Locked: even the right password is refused, without a word about why.
    error = await login_error(engine, "bob", PASSWORD)
    assert isinstance(error, PermissionDenied) and error.message == "permission denied"
    engine.clock.advance(15 * 60 - 1)
    assert isinstance(await login_error(engine, "bob", PASSWORD), PermissionDenied)
    engine.clock.advance(1)
    await engine.login("auth/userpass/login/bob", {"password": PASSWORD})


async def test_a_success_resets_the_count_and_so_does_a_quiet_quarter_hour(engine: Engine) -> None:
    await add_user(engine)
    await fail(engine, 4)
    await engine.login("auth/userpass/login/bob", {"password": PASSWORD})
    await fail(engine, 4)
    engine.clock.advance(15 * 60 + 1)  # lockout_counter_reset: the next failure counts as the first
    await fail(engine, 4)
    await engine.login("auth/userpass/login/bob", {"password": PASSWORD})


async def test_the_lockout_survives_a_restart(engine: Engine) -> None:
    await add_user(engine)
    await fail(engine, 5)
    again = await engine.restart()
    assert isinstance(await login_error(again, "bob", PASSWORD), PermissionDenied)


async def test_lockout_is_tuned_per_mount_and_can_be_disabled(engine: Engine) -> None:
    await add_user(engine)
    await engine.call(
        Op.UPDATE,
        "sys/auth/userpass/tune",
        {"user_lockout_config": {"lockout_threshold": "2", "lockout_duration": "1m", "lockout_counter_reset": "30s"}},
    )
    await fail(engine, 2)
    assert isinstance(await login_error(engine, "bob", PASSWORD), PermissionDenied)
    engine.clock.advance(60)
    await engine.login("auth/userpass/login/bob", {"password": PASSWORD})

    await engine.call(Op.UPDATE, "sys/auth/userpass/tune", {"user_lockout_config": {"lockout_disable": True}})
    await fail(engine, 6)
    await engine.login("auth/userpass/login/bob", {"password": PASSWORD})


async def test_failures_of_unknown_users_are_not_stored(engine: Engine) -> None:
    await fail(engine, 6, name="ghost")
    uuid = (await engine.call(Op.READ, "sys/auth")).data["userpass/"]["uuid"]  # type: ignore[index]
    assert await engine.barrier.list(f"auth/{uuid}/") == []


async def test_concurrent_guesses_cannot_overtake_the_count(engine: Engine) -> None:
    await add_user(engine)
    results = await asyncio.gather(*(login_error(engine, "bob", "wrong") for _ in range(8)))
    answers = [type(error).__name__ for error in results]
    # Logins of one user are serialised: five wrong passwords are checked, the rest are refused unseen.
    assert answers.count("BadRequest") == 5 and answers.count("PermissionDenied") == 3


# --- renewal check ---------------------------------------------------------------------------------


async def test_renewal_is_refused_once_policies_change_and_ends_with_the_user() -> None:
    backend = UserpassBackend(MountEntry("auth/userpass/", "userpass"), Clock())
    storage = MemoryStorage()
    user = {"password": PASSWORD, "token_policies": "dev", "token_ttl": 60}
    await backend.handle(Request(Op.CREATE, "users/bob", user), storage)
    response = await backend.handle(Request(Op.UPDATE, "login/bob", {"password": PASSWORD}), storage)
    login = response.login if response is not None else None
    assert login is not None and login.internal_data == {"username": "bob"} and login.alias_name == "bob"
    issued = Auth(policies=["default", "dev"], metadata=login.metadata, internal_data=login.internal_data)

    await backend.handle(Request(Op.UPDATE, "users/bob", {"token_ttl": 120, "token_period": 0}), storage)
    renewed = await backend.renew_auth(issued, storage)
    assert renewed is not None and renewed.ttl == 120

    await backend.handle(Request(Op.UPDATE, "users/bob/policies", {"token_policies": "dev,ops"}), storage)
    with pytest.raises(BadRequest, match=r"^policies have changed, not renewing$"):
        await backend.renew_auth(issued, storage)
    await backend.handle(Request(Op.DELETE, "users/bob"), storage)
    assert await backend.renew_auth(issued, storage) is None
