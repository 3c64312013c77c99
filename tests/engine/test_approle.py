"""The approle auth method through Core.handle over the real barrier: roles, role IDs, secret IDs (with
TTL, use counts, CIDR binding, metadata, accessors), login to a usable token, and the rules around
them: secret IDs never stored in clear, uses consumed atomically, expiry on a fake clock, lockout."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.backends.approle import ApproleBackend
from engine.errors import BadRequest, EngineError, NotFound, PermissionDenied
from engine.mounts import MountEntry
from engine.request import Auth, Op, Request
from engine.storage.memory import MemoryStorage
from tests.engine.auth_harness import Engine, make_engine
from tests.engine.core_harness import Clock

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    await engine.enable_auth("approle", "approle")
    yield engine
    engine.barrier.seal()


async def role(engine: Engine, name: str = "web", **body: Any) -> str:
    """Create (or update) a role and return its role ID."""
    await engine.call(Op.UPDATE, f"auth/approle/role/{name}", body)
    data = (await engine.call(Op.READ, f"auth/approle/role/{name}/role-id")).data
    assert data is not None
    return str(data["role_id"])


async def secret(engine: Engine, name: str = "web", **body: Any) -> dict[str, Any]:
    data = (await engine.call(Op.UPDATE, f"auth/approle/role/{name}/secret-id", body)).data
    assert data is not None
    return data


async def login_error(engine: Engine, role_id: str, secret_id: str | None, remote: str = "10.1.2.3") -> EngineError:
    body = {"role_id": role_id, "secret_id": secret_id}
    return await engine.error(Op.UPDATE, "auth/approle/login", body, token=None, remote=remote)


async def log_in(engine: Engine, role_id: str, secret_id: str | None, remote: str = "10.1.2.3") -> dict[str, Any]:
    return await engine.login("auth/approle/login", {"role_id": role_id, "secret_id": secret_id}, remote=remote)


# --- roles -----------------------------------------------------------------------------------------


async def test_roles_are_created_read_listed_and_deleted_in_vaults_shape(engine: Engine) -> None:
    role_id = await role(engine, "Web", token_policies="dev", secret_id_ttl="10m", secret_id_num_uses=40)
    assert re.fullmatch(UUID, role_id)
    assert (await engine.call(Op.READ, "auth/approle/role/web")).data == {
        "bind_secret_id": True,
        "secret_id_bound_cidrs": [],
        "secret_id_num_uses": 40,
        "secret_id_ttl": 600,
        "local_secret_ids": False,
        "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 0,
        "token_no_default_policy": False,
        "token_num_uses": 0,
        "token_period": 0,
        "token_policies": ["dev"],
        "token_type": "default",
        "token_ttl": 0,
    }
    await role(engine, "api", policies="a", period="1h")
    shown = (await engine.call(Op.READ, "auth/approle/role/api")).data or {}
    assert shown["policies"] == ["a"] and shown["period"] == 3600 and shown["token_period"] == 3600
    assert (await engine.call(Op.LIST, "auth/approle/role")).data == {"keys": ["api", "web"]}

    await engine.call(Op.DELETE, "auth/approle/role/web")
    assert isinstance(await engine.error(Op.READ, "auth/approle/role/web"), NotFound)
    assert isinstance(await login_error(engine, role_id, "x"), BadRequest)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bind_secret_id": False}, "at least one constraint should be enabled on the role"),
        ({"secret_id_num_uses": -1}, "secret_id_num_uses cannot be negative"),
        ({"secret_id_bound_cidrs": "10.0.0.1"}, "failed to validate CIDR blocks: invalid CIDR address: 10.0.0.1"),
        ({"period": "800h"}, 'period of "800h0m0s" is greater than the backend\'s maximum lease TTL of "768h0m0s"'),
        ({"token_type": "nope"}, "invalid 'token_type' value \"nope\""),
    ],
)
async def test_role_settings_are_validated(engine: Engine, body: dict[str, Any], message: str) -> None:
    error = await engine.error(Op.UPDATE, "auth/approle/role/web", body)
    assert isinstance(error, BadRequest) and error.message == message
    assert isinstance(await engine.error(Op.READ, "auth/approle/role/web"), NotFound)


async def test_default_token_types_are_adjusted_with_vaults_warning(engine: Engine) -> None:
    response = await engine.call(Op.UPDATE, "auth/approle/role/web", {"token_type": "default-batch"})
    assert response.warnings == ["default-batch has no useful meaning; adjusting to batch"]
    assert ((await engine.call(Op.READ, "auth/approle/role/web")).data or {})["token_type"] == "batch"


async def test_local_secret_ids_can_only_be_chosen_at_creation(engine: Engine) -> None:
    await role(engine, local_secret_ids=True)
    error = await engine.error(Op.UPDATE, "auth/approle/role/web", {"local_secret_ids": False})
    assert (
        isinstance(error, BadRequest) and error.message == "local_secret_ids can only be modified during role creation"
    )
    assert (await engine.call(Op.READ, "auth/approle/role/web/local-secret-ids")).data == {"local_secret_ids": True}


async def test_one_field_endpoints_read_update_and_reset(engine: Engine) -> None:
    await role(engine, token_policies="dev", secret_id_ttl=60)
    assert (await engine.call(Op.READ, "auth/approle/role/web/policies")).data == {"token_policies": ["dev"]}
    await engine.call(Op.UPDATE, "auth/approle/role/web/policies", {"token_policies": "ops"})
    await engine.call(Op.UPDATE, "auth/approle/role/web/secret-id-ttl", {"secret_id_ttl": "2m"})
    await engine.call(Op.UPDATE, "auth/approle/role/web/token-ttl", {"token_ttl": 30})
    data = (await engine.call(Op.READ, "auth/approle/role/web")).data or {}
    assert (data["token_policies"], data["secret_id_ttl"], data["token_ttl"]) == (["ops"], 120, 30)
    error = await engine.error(Op.UPDATE, "auth/approle/role/web/secret-id-num-uses", {})
    assert isinstance(error, BadRequest) and error.message == "missing secret_id_num_uses"
    await engine.call(Op.DELETE, "auth/approle/role/web/secret-id-ttl")
    assert (await engine.call(Op.READ, "auth/approle/role/web/secret-id-ttl")).data == {"secret_id_ttl": 0}
    error = await engine.error(Op.UPDATE, "auth/approle/role/web/bind-secret-id", {"bind_secret_id": False})
    assert isinstance(error, BadRequest) and error.message == "at least one constraint should be enabled on the role"
    assert isinstance(await engine.error(Op.UPDATE, "auth/approle/role/none/token-ttl", {"token_ttl": 1}), NotFound)


async def test_a_custom_role_id_replaces_the_old_one_and_must_be_unique(engine: Engine) -> None:
    old = await role(engine)
    await role(engine, "other")
    sid = (await secret(engine))["secret_id"]
    await engine.call(Op.UPDATE, "auth/approle/role/web/role-id", {"role_id": "my-app"})
    assert (await engine.call(Op.READ, "auth/approle/role/web/role-id")).data == {"role_id": "my-app"}
    await log_in(engine, "my-app", sid)
    assert (await login_error(engine, old, sid)).message == "invalid role or secret ID"
    error = await engine.error(Op.UPDATE, "auth/approle/role/other/role-id", {"role_id": "my-app"})
    assert isinstance(error, BadRequest) and error.message == "role_id already in use"


# --- secret IDs ------------------------------------------------------------------------------------


async def test_secret_ids_are_issued_listed_looked_up_and_destroyed(engine: Engine) -> None:
    await role(engine, secret_id_ttl="10m")
    issued = await secret(engine, metadata='{"tag1": "production"}')
    assert set(issued) == {"secret_id", "secret_id_accessor", "secret_id_ttl", "secret_id_num_uses"}
    assert re.fullmatch(UUID, issued["secret_id"]) and issued["secret_id_ttl"] == 600
    other = await secret(engine, metadata="a=1,b=2")

    listed = (await engine.call(Op.LIST, "auth/approle/role/web/secret-id")).data or {}
    assert sorted(listed["keys"]) == sorted([issued["secret_id_accessor"], other["secret_id_accessor"]])

    by_value = (
        await engine.call(Op.UPDATE, "auth/approle/role/web/secret-id/lookup", {"secret_id": issued["secret_id"]})
    ).data
    by_accessor = (
        await engine.call(
            Op.UPDATE,
            "auth/approle/role/web/secret-id-accessor/lookup",
            {"secret_id_accessor": issued["secret_id_accessor"]},
        )
    ).data
    assert by_value == by_accessor
    assert by_value is not None and by_value["metadata"] == {"tag1": "production"}
    assert by_value["creation_time"] == "2030-01-01T12:00:00Z" and by_value["expiration_time"] == "2030-01-01T12:10:00Z"
    assert (by_value["secret_id_ttl"], by_value["cidr_list"], by_value["token_bound_cidrs"]) == (600, [], [])

    await engine.call(Op.UPDATE, "auth/approle/role/web/secret-id/destroy", {"secret_id": issued["secret_id"]})
    body = {"secret_id_accessor": other["secret_id_accessor"]}
    await engine.call(Op.UPDATE, "auth/approle/role/web/secret-id-accessor/destroy", body)
    assert isinstance(await engine.error(Op.LIST, "auth/approle/role/web/secret-id"), NotFound)
    role_id = await role(engine)
    for gone in (issued, other):
        assert (await login_error(engine, role_id, gone["secret_id"])).message == "invalid role or secret ID"
    error = await engine.error(Op.UPDATE, "auth/approle/role/web/secret-id-accessor/lookup", body)
    assert isinstance(error, NotFound)
    assert error.message == f'failed to find accessor entry for secret_id_accessor: "{other["secret_id_accessor"]}"'


async def test_secret_ids_and_their_roles_refusals(engine: Engine) -> None:
    await role(engine, secret_id_num_uses=3, secret_id_ttl="1h")
    for body, message in (
        ({"num_uses": 4}, "num_uses cannot be higher than the role's secret_id_num_uses"),
        ({"num_uses": 0}, "num_uses cannot be higher than the role's secret_id_num_uses"),
        ({"num_uses": -1}, "num_uses cannot be negative"),
        ({"ttl": "2h"}, "ttl cannot be longer than the role's secret_id_ttl"),
        ({"metadata": "not a pair"}, "format must be key=value"),
    ):
        error = await engine.error(Op.UPDATE, "auth/approle/role/web/secret-id", body)
        assert isinstance(error, BadRequest) and message in error.message
    error = await engine.error(Op.UPDATE, "auth/approle/role/nope/secret-id")
    assert isinstance(error, NotFound) and error.message == 'role "nope" does not exist'
    await role(engine, "cidr-only", bind_secret_id=False, secret_id_bound_cidrs="10.0.0.0/8")
    error = await engine.error(Op.UPDATE, "auth/approle/role/cidr-only/secret-id")
    assert isinstance(error, BadRequest) and error.message == "bind_secret_id is not set on the role"


async def test_a_custom_secret_id_is_registered_once(engine: Engine) -> None:
    role_id = await role(engine)
    body = {"secret_id": "my-chosen-secret", "ttl": 600, "num_uses": 5}
    issued = (await engine.call(Op.UPDATE, "auth/approle/role/web/custom-secret-id", body)).data
    assert issued is not None and issued["secret_id"] == "my-chosen-secret" and issued["secret_id_num_uses"] == 5
    error = await engine.error(Op.UPDATE, "auth/approle/role/web/custom-secret-id", body)
    assert isinstance(error, BadRequest) and error.message == "SecretID is already registered"
    await log_in(engine, role_id, "my-chosen-secret")


async def test_secret_ids_are_never_stored_in_clear(engine: Engine) -> None:
    await role(engine)
    issued = [(await secret(engine))["secret_id"] for _ in range(3)]
    await engine.call(Op.UPDATE, "auth/approle/role/web/custom-secret-id", {"secret_id": "pushed-secret-value"})
    stored = await engine.stored_values()
    for value in [*issued, "pushed-secret-value"]:
        assert not any(value.encode() in blob for blob in stored)


# --- login -----------------------------------------------------------------------------------------


async def test_login_gives_a_token_with_the_roles_policies_and_the_secret_ids_metadata(engine: Engine) -> None:
    await engine.put_policy("reader", 'path "secret/app/*" { capabilities = ["read"] }')
    role_id = await role(engine, token_policies="reader", token_ttl="20m", token_max_ttl="30m")
    sid = (await secret(engine, metadata='{"env": "prod"}'))["secret_id"]
    await engine.call(Op.UPDATE, "secret/app/db", {"user": "u"})

    auth = await log_in(engine, role_id, sid)
    assert auth["policies"] == ["default", "reader"] and auth["lease_duration"] == 1200
    assert auth["metadata"] == {"env": "prod", "role_name": "web"} and auth["renewable"] is True
    token = auth["client_token"]
    me = (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data or {}
    assert me["path"] == "auth/approle/login" and me["meta"] == {"env": "prod", "role_name": "web"}
    assert (await engine.call(Op.READ, "secret/app/db", token=token)).data == {"user": "u"}
    assert isinstance(await engine.error(Op.READ, "auth/approle/role/web", token=token), PermissionDenied)


@pytest.mark.parametrize(
    ("role_id", "secret_id", "message"),
    [
        ("", "x", "missing role_id"),
        ("no-such-role", "x", "invalid role or secret ID"),
        (None, None, "missing secret_id"),
        (None, "wrong", "invalid role or secret ID"),
    ],
)
async def test_bad_logins(engine: Engine, role_id: str | None, secret_id: str | None, message: str) -> None:
    real = await role(engine)
    error = await login_error(engine, real if role_id is None else role_id, secret_id)
    assert isinstance(error, BadRequest) and error.message == message


async def test_a_secret_id_is_spent_after_its_uses(engine: Engine) -> None:
    role_id = await role(engine)
    issued = await secret(engine, num_uses=2)
    lookup = {"secret_id": issued["secret_id"]}
    await log_in(engine, role_id, issued["secret_id"])
    left = (await engine.call(Op.UPDATE, "auth/approle/role/web/secret-id/lookup", lookup)).data or {}
    assert left["secret_id_num_uses"] == 1
    await log_in(engine, role_id, issued["secret_id"])
    assert (await login_error(engine, role_id, issued["secret_id"])).message == "invalid role or secret ID"
    # Spent: gone with its accessor.
    assert isinstance(await engine.error(Op.LIST, "auth/approle/role/web/secret-id"), NotFound)


class YieldingStorage(MemoryStorage):
    """Memory storage that lets other tasks run at every call, as a real store's I/O does: without it
    no interleaving, and so no race, could ever show."""

    async def get(self, key: str) -> bytes | None:
        await asyncio.sleep(0)
        return await super().get(key)

    async def put(self, key: str, value: bytes) -> None:
        await asyncio.sleep(0)
        await super().put(key, value)


async def test_concurrent_logins_cannot_both_spend_the_last_use() -> None:
    backend = ApproleBackend(MountEntry("auth/approle/", "approle"), Clock())
    storage = YieldingStorage()
    await backend.handle(Request(Op.CREATE, "role/web", {}), storage)
    role_id = (await backend.handle(Request(Op.READ, "role/web/role-id"), storage)).data["role_id"]  # type: ignore[union-attr]
    issue = Request(Op.UPDATE, "role/web/secret-id", {"num_uses": 1})
    sid = (await backend.handle(issue, storage)).data["secret_id"]  # type: ignore[union-attr]
    body = {"role_id": role_id, "secret_id": sid}
    results = await asyncio.gather(
        *(backend.handle(Request(Op.UPDATE, "login", body), storage) for _ in range(5)), return_exceptions=True
    )
    logins = [r for r in results if not isinstance(r, BaseException) and r is not None and r.login is not None]
    assert len(logins) == 1
    assert all(isinstance(r, BadRequest) for r in results if isinstance(r, BaseException))


async def test_an_expired_secret_id_is_refused_and_tidied(engine: Engine) -> None:
    role_id = await role(engine, secret_id_ttl="1m")
    short = await secret(engine)
    lasting = await secret(engine, ttl="1m")
    engine.clock.advance(59)
    await log_in(engine, role_id, short["secret_id"])
    engine.clock.advance(1)
    assert (await login_error(engine, role_id, short["secret_id"])).message == "invalid role or secret ID"
    assert (
        lasting["secret_id_accessor"]
        in ((await engine.call(Op.LIST, "auth/approle/role/web/secret-id")).data or {})["keys"]
    )
    response = await engine.call(Op.UPDATE, "auth/approle/tidy/secret-id")
    assert (
        response.status == 202 and response.warnings and "Tidy operation successfully started" in response.warnings[0]
    )
    assert isinstance(await engine.error(Op.LIST, "auth/approle/role/web/secret-id"), NotFound)


async def test_a_secret_id_ttl_is_capped_by_the_mounts_max_lease_ttl(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/auth/approle/tune", {"max_lease_ttl": "1h"})
    await role(engine)
    assert (await secret(engine, ttl="5h"))["secret_id_ttl"] == 3600


async def test_cidr_bindings_on_the_role_and_on_the_secret_id(engine: Engine) -> None:
    role_id = await role(engine, secret_id_bound_cidrs="10.0.0.0/8")
    sid = (await secret(engine))["secret_id"]
    error = await login_error(engine, role_id, sid, remote="192.168.1.1")
    assert isinstance(error, BadRequest)
    assert error.message == 'source address "192.168.1.1" unauthorized by CIDR restrictions on the role'
    await log_in(engine, role_id, sid, remote="10.200.0.1")

    narrow = (await secret(engine, cidr_list="10.1.0.0/16"))["secret_id"]
    error = await login_error(engine, role_id, narrow, remote="10.2.0.1")
    assert error.message == 'source address "10.2.0.1" unauthorized through CIDR restrictions on the secret ID'
    await log_in(engine, role_id, narrow, remote="10.1.255.255")

    error = await engine.error(Op.UPDATE, "auth/approle/role/web/secret-id", {"cidr_list": "11.0.0.0/8"})
    assert isinstance(error, BadRequest)
    assert error.message == (
        'failed to verify subset relationship between CIDR blocks on the role ["10.0.0.0/8"] and CIDR blocks '
        'on the secret ID ["11.0.0.0/8"]'
    )


async def test_a_role_without_bind_secret_id_logs_in_on_its_cidrs_alone(engine: Engine) -> None:
    role_id = await role(engine, bind_secret_id=False, secret_id_bound_cidrs="10.0.0.0/8")
    await log_in(engine, role_id, None, remote="10.0.0.9")
    error = await login_error(engine, role_id, None, remote="172.16.0.1")
    assert error.message == 'source address "172.16.0.1" unauthorized by CIDR restrictions on the role'


async def test_bad_secret_ids_lock_the_role_id_out(engine: Engine) -> None:
    role_id = await role(engine)
    sid = (await secret(engine))["secret_id"]
    for _ in range(5):
        assert (await login_error(engine, role_id, "guess")).message == "invalid role or secret ID"
    error = await login_error(engine, role_id, sid)
    assert isinstance(error, PermissionDenied)
    engine.clock.advance(15 * 60)
    await log_in(engine, role_id, sid)


async def test_deleting_a_role_deletes_its_secret_ids(engine: Engine) -> None:
    await role(engine)
    for _ in range(3):
        await secret(engine)
    await engine.call(Op.DELETE, "auth/approle/role/web")
    uuid = ((await engine.call(Op.READ, "sys/auth")).data or {})["approle/"]["uuid"]
    left = await engine.barrier.list(f"auth/{uuid}/")
    assert left == ["salt"]


async def test_renewal_takes_the_roles_current_ttls_and_ends_with_the_role() -> None:
    backend = ApproleBackend(MountEntry("auth/approle/", "approle"), Clock())
    storage = MemoryStorage()
    await backend.handle(Request(Op.CREATE, "role/web", {"token_ttl": 60, "token_period": 0}), storage)
    role_id = (await backend.handle(Request(Op.READ, "role/web/role-id"), storage)).data["role_id"]  # type: ignore[union-attr]
    sid = (await backend.handle(Request(Op.UPDATE, "role/web/secret-id"), storage)).data["secret_id"]  # type: ignore[union-attr]
    response = await backend.handle(Request(Op.UPDATE, "login", {"role_id": role_id, "secret_id": sid}), storage)
    login = response.login if response is not None else None
    assert login is not None and login.internal_data == {"role_name": "web"} and login.alias_name == role_id

    await backend.handle(Request(Op.UPDATE, "role/web", {"token_ttl": 90}), storage)
    renewed = await backend.renew_auth(Auth(internal_data=dict(login.internal_data)), storage)
    assert renewed is not None and renewed.ttl == 90
    await backend.handle(Request(Op.DELETE, "role/web"), storage)
    with pytest.raises(BadRequest, match='role "web" does not exist during renewal'):
        await backend.renew_auth(Auth(internal_data=dict(login.internal_data)), storage)
