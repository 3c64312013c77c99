"""Token roles (auth/token/roles/:name) and creation against them (auth/token/create/:name)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from token_harness import CREATOR, HOUR, Engine, start_engine, stop_engine

from engine.errors import BadRequest, NotFound
from engine.request import Op

ROLE_KEYS = {
    "allowed_entity_aliases",
    "allowed_policies",
    "allowed_policies_glob",
    "disallowed_policies",
    "disallowed_policies_glob",
    "explicit_max_ttl",
    "name",
    "orphan",
    "path_suffix",
    "period",
    "renewable",
    "token_explicit_max_ttl",
    "token_no_default_policy",
    "token_period",
    "token_type",
}


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await start_engine()
    await engine.policy("creator", CREATOR)
    yield engine
    await stop_engine(engine)


async def write_role(engine: Engine, name: str, **settings: Any) -> list[str]:
    response = await engine.call(Op.UPDATE, f"auth/token/roles/{name}", settings)
    return response.warnings


async def read_role(engine: Engine, name: str) -> dict[str, Any]:
    data = (await engine.call(Op.READ, f"auth/token/roles/{name}")).data
    assert data is not None
    return data


async def refused(engine: Engine, path: str, data: dict[str, Any], token: str | None = None) -> str:
    error = await engine.error(Op.UPDATE, path, data, token)
    assert isinstance(error, BadRequest), error
    return error.message


async def test_a_new_role_reads_back_with_vaults_defaults(engine: Engine) -> None:
    assert await write_role(engine, "app") == []
    data = await read_role(engine, "app")
    assert set(data) == ROLE_KEYS
    assert data["name"] == "app" and data["renewable"] is True and data["orphan"] is False
    assert data["allowed_policies"] == [] and data["disallowed_policies"] == []
    assert data["allowed_entity_aliases"] is None and data["token_type"] == "default-service"
    assert data["token_period"] == 0 and data["token_explicit_max_ttl"] == 0 and data["path_suffix"] == ""


async def test_roles_are_listed_updated_and_deleted(engine: Engine) -> None:
    await write_role(engine, "b-role", allowed_policies="Dev,ops", token_num_uses=4, token_period="1h")
    await write_role(engine, "a.role", orphan=True)
    listed = (await engine.call(Op.LIST, "auth/token/roles")).data
    assert listed == {"keys": ["a.role", "b-role"]}
    await write_role(engine, "b-role", orphan=True)  # an update keeps what it does not mention
    data = await read_role(engine, "b-role")
    assert data["allowed_policies"] == ["dev", "ops"] and data["orphan"] is True
    assert data["token_num_uses"] == 4 and data["token_period"] == HOUR
    await engine.call(Op.DELETE, "auth/token/roles/b-role")
    assert isinstance(await engine.error(Op.READ, "auth/token/roles/b-role"), NotFound)
    assert (await engine.call(Op.LIST, "auth/token/roles/")).data == {"keys": ["a.role"]}


async def test_deprecated_role_fields_still_work(engine: Engine) -> None:
    await write_role(engine, "old", period="2h", explicit_max_ttl="3h")
    data = await read_role(engine, "old")
    assert (data["period"], data["token_period"]) == (2 * HOUR, 2 * HOUR)
    assert (data["explicit_max_ttl"], data["token_explicit_max_ttl"]) == (3 * HOUR, 3 * HOUR)
    warnings = await write_role(engine, "both", period="2h", token_period="1h")
    assert warnings == ["Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"]
    assert (await read_role(engine, "both"))["token_period"] == HOUR


async def test_invalid_roles_are_refused(engine: Engine) -> None:
    for settings, message in (
        ({"token_type": "batch"}, "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens"),
        (
            {"token_type": "batch", "orphan": True},
            "'token_type' cannot be 'batch' when role is set to generate renewable tokens",
        ),
        (
            {"token_type": "batch", "orphan": True, "renewable": False, "token_period": "1h"},
            "'token_type' cannot be 'batch' when role is set to generate periodic tokens",
        ),
        ({"token_type": "sideways"}, "invalid 'token_type' value \"sideways\""),
        ({"path_suffix": "v1..v2"}, "error registering path suffix: path cannot contain parent references"),
        ({"path_suffix": "!"}, "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w"),
    ):
        assert await refused(engine, "auth/token/roles/bad", settings) == message
    assert isinstance(await engine.error(Op.READ, "auth/token/roles/bad"), NotFound)


async def test_creating_against_an_unknown_role(engine: Engine) -> None:
    assert await refused(engine, "auth/token/create/ghost", {}) == "unknown role ghost"


async def test_a_role_lets_a_parent_grant_its_allowed_policies(engine: Engine) -> None:
    await write_role(engine, "ops", allowed_policies=["ops", "audit"])
    creator = await engine.token(policies=["creator"])
    # Without a role the parent could not grant "ops"; the role's list replaces the subset rule.
    auth = await engine.create(creator, path="auth/token/create/ops")
    assert auth["policies"] == ["audit", "default", "ops"]
    assert (await engine.create(creator, path="auth/token/create/ops", policies=["ops"]))["policies"] == [
        "default",
        "ops",
    ]
    message = await refused(engine, "auth/token/create/ops", {"policies": ["creator"]}, creator)
    assert message == (
        'token policies (["creator" "default"]) must be subset of the role\'s allowed policies '
        '(["audit" "default" "ops"]) or glob policies ([])'
    )
    data = await engine.lookup(auth["client_token"])
    assert data["role"] == "ops" and data["path"] == "auth/token/create/ops"


async def test_role_globs_and_disallowed_policies(engine: Engine) -> None:
    await write_role(engine, "globbed", allowed_policies_glob=["team-*"], disallowed_policies=["team-admin"])
    assert (await engine.create(path="auth/token/create/globbed", policies=["team-a"]))["policies"] == [
        "default",
        "team-a",
    ]
    message = await refused(engine, "auth/token/create/globbed", {"policies": ["team-admin"]})
    assert message == 'token policy "team-admin" is disallowed by this role'
    await write_role(engine, "no-default", disallowed_policies=["default"])
    assert (await engine.create(path="auth/token/create/no-default", policies=["x"]))["policies"] == ["x"]
    await write_role(engine, "no-root", disallowed_policies_glob=["ro*"])
    message = await refused(engine, "auth/token/create/no-root", {})  # root's inherited policies
    assert message == 'token policy "root" is disallowed by this role'


async def test_role_settings_shape_the_token(engine: Engine) -> None:
    await write_role(
        engine,
        "shaped",
        orphan=True,
        renewable=False,
        path_suffix="rev2",
        token_num_uses=3,
        token_explicit_max_ttl="2h",
    )
    creator = await engine.token(policies=["creator"])
    auth = await engine.create(creator, path="auth/token/create/shaped", ttl="5h", policies=["creator"])
    assert auth["orphan"] is True and auth["renewable"] is False and auth["num_uses"] == 3
    assert auth["lease_duration"] == 2 * HOUR
    data = await engine.lookup(auth["client_token"])
    assert data["path"] == "auth/token/create/shaped/rev2" and data["role"] == "shaped"
    # The role's smaller use count wins over the request's larger one, and the other way round.
    assert (await engine.create(creator, path="auth/token/create/shaped", num_uses=9))["num_uses"] == 3
    assert (await engine.create(creator, path="auth/token/create/shaped", num_uses=1))["num_uses"] == 1


async def test_a_role_period_makes_periodic_tokens_without_sudo(engine: Engine) -> None:
    await write_role(engine, "periodic", token_period="1h")
    creator = await engine.token(policies=["creator"])
    auth = await engine.create(creator, path="auth/token/create/periodic", policies=["creator"])
    assert auth["lease_duration"] == HOUR and auth["renewable"] is True
    for _ in range(5):
        engine.clock.advance(HOUR - 1)
        renewed = await engine.call(Op.UPDATE, "auth/token/renew-self", {"increment": "9h"}, token=auth["client_token"])
        assert renewed.auth is not None and renewed.auth["lease_duration"] == HOUR
    # Renewals follow the role as it is now.
    await write_role(engine, "periodic", token_period="30m")
    renewed = await engine.call(Op.UPDATE, "auth/token/renew-self", token=auth["client_token"])
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 1800


async def test_role_token_types(engine: Engine) -> None:
    await write_role(engine, "batchy", token_type="batch", orphan=True, renewable=False, allowed_policies=["dev"])
    auth = await engine.create(path="auth/token/create/batchy")
    assert auth["token_type"] == "batch" and auth["client_token"].startswith("hvb.") and auth["orphan"] is True
    await write_role(engine, "default-batch", token_type="default-batch", allowed_policies=["dev"])
    assert (await engine.create(path="auth/token/create/default-batch"))["token_type"] == "batch"
    chosen = await engine.create(path="auth/token/create/default-batch", type="service")
    assert chosen["token_type"] == "service"
    await write_role(engine, "service", token_type="service", allowed_policies=["dev"])
    assert (await engine.create(path="auth/token/create/service", type="batch"))["token_type"] == "service"
