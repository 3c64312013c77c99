"""auth/token/ through Core.handle (real barrier, real policies): Vault's shapes and messages for
create, lookup, renew and revoke, by value and by accessor, and the rules on who may do what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from token_harness import CREATOR, HOUR, SUDO_CREATOR, SYSTEM_MAX, Engine, start_engine, stop_engine

from engine.errors import BadRequest, PermissionDenied
from engine.request import Op

LOOKUP_KEYS = {
    "accessor",
    "creation_time",
    "creation_ttl",
    "display_name",
    "entity_id",
    "expire_time",
    "explicit_max_ttl",
    "id",
    "meta",
    "num_uses",
    "orphan",
    "path",
    "policies",
    "ttl",
    "type",
}
LEASE_KEYS = {"issue_time", "renewable"}
AUTH_KEYS = {
    "client_token",
    "accessor",
    "policies",
    "token_policies",
    "metadata",
    "lease_duration",
    "renewable",
    "entity_id",
    "token_type",
    "orphan",
    "mfa_requirement",
    "num_uses",
}


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await start_engine()
    await engine.policy("creator", CREATOR)
    await engine.policy("sudo-creator", SUDO_CREATOR)
    yield engine
    await stop_engine(engine)


async def bad_request(engine: Engine, path: str, data: dict[str, Any], token: str | None = None) -> str:
    error = await engine.error(Op.UPDATE, path, data, token)
    assert isinstance(error, BadRequest), error
    return error.message


# --- lookup -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [Op.READ, Op.UPDATE])
async def test_lookup_self_of_the_root_token_has_vaults_shape(engine: Engine, op: Op) -> None:
    data = (await engine.call(op, "auth/token/lookup-self")).data
    assert data is not None and set(data) == LOOKUP_KEYS
    assert data["id"] == engine.root
    assert data["policies"] == ["root"] and data["path"] == "auth/token/root"
    assert data["display_name"] == "root" and data["orphan"] is True
    assert data["ttl"] == 0 and data["creation_ttl"] == 0 and data["expire_time"] is None
    assert data["meta"] is None and data["num_uses"] == 0 and data["type"] == "service"
    assert data["creation_time"] == int(engine.clock.now.timestamp())


async def test_lookup_of_a_created_token_shows_its_lease(engine: Engine) -> None:
    auth = await engine.create(policies="Dev, ops", ttl="1h", meta={"team": "a"}, display_name="ci job!")
    data = await engine.lookup(auth["client_token"])
    assert set(data) == LOOKUP_KEYS | LEASE_KEYS
    assert data["id"] == auth["client_token"] and data["accessor"] == auth["accessor"]
    assert data["policies"] == ["default", "dev", "ops"] and data["orphan"] is False
    assert data["path"] == "auth/token/create" and data["display_name"] == "token-ci-job"
    assert data["expire_time"] == "2030-01-01T13:00:00Z" and data["issue_time"] == "2030-01-01T12:00:00Z"
    assert data["renewable"] is True and data["meta"] == {"team": "a"}
    engine.clock.advance(600)
    data = await engine.lookup(auth["client_token"])
    assert data["ttl"] == 3000 and data["creation_ttl"] == 3600
    engine.clock.advance(3000)
    assert not await engine.alive(auth["client_token"])


async def test_lookup_of_an_unknown_token_is_403_bad_token(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "auth/token/lookup", {"token": "hvs.nope"})
    assert isinstance(error, PermissionDenied) and error.message == "bad token"


async def test_the_default_policy_lets_a_token_look_itself_up_and_nothing_else(engine: Engine) -> None:
    token = await engine.token(policies=["nothing"])
    data = (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data
    assert data is not None and data["policies"] == ["default", "nothing"]
    for op, path in ((Op.UPDATE, "auth/token/lookup"), (Op.READ, "secret/x"), (Op.UPDATE, "auth/token/create")):
        assert isinstance(await engine.error(op, path, {"token": engine.root}, token=token), PermissionDenied)


async def test_lookup_accessor_hides_the_token(engine: Engine) -> None:
    auth = await engine.create(policies=["dev"])
    data = (await engine.call(Op.UPDATE, "auth/token/lookup-accessor", {"accessor": auth["accessor"]})).data
    assert data is not None and data["id"] == "" and data["accessor"] == auth["accessor"]
    assert data["policies"] == ["default", "dev"]
    assert await bad_request(engine, "auth/token/lookup-accessor", {}) == "missing accessor"
    assert await bad_request(engine, "auth/token/lookup-accessor", {"accessor": "nope"}) == "invalid accessor"


async def test_listing_accessors_needs_sudo(engine: Engine) -> None:
    auth = await engine.create(policies=["dev"])
    keys = (await engine.call(Op.LIST, "auth/token/accessors/")).data
    assert keys is not None and auth["accessor"] in keys["keys"] and len(keys["keys"]) == 2  # root + dev
    lister = await engine.token(policies=["creator"])
    assert isinstance(await engine.error(Op.LIST, "auth/token/accessors/", token=lister), PermissionDenied)
    sudo = await engine.token(policies=["sudo-creator"])
    listed = (await engine.call(Op.LIST, "auth/token/accessors/", token=sudo)).data
    assert listed is not None and auth["accessor"] in listed["keys"]


# --- create: shapes and TTLs ------------------------------------------------------------------------


async def test_root_creates_a_root_token_by_inheritance(engine: Engine) -> None:
    auth = await engine.create()
    assert set(auth) == AUTH_KEYS
    assert auth["policies"] == ["root"] == auth["token_policies"]
    assert auth["lease_duration"] == 0 and auth["renewable"] is False and auth["orphan"] is False
    assert auth["token_type"] == "service" and auth["metadata"] is None and auth["num_uses"] == 0
    assert auth["client_token"].startswith("hvs.") and auth["client_token"] != engine.root
    data = (await engine.call(Op.READ, "auth/token/lookup-self", token=auth["client_token"])).data
    assert data is not None and data["accessor"] == auth["accessor"] and data["renewable"] is False


async def test_non_root_tokens_get_the_mount_default_ttl_capped_at_the_max(engine: Engine) -> None:
    assert (await engine.create(policies=["dev"]))["lease_duration"] == SYSTEM_MAX
    response = await engine.call(Op.UPDATE, "auth/token/create", {"policies": ["dev"], "ttl": "9999h"})
    assert response.auth is not None and response.auth["lease_duration"] == SYSTEM_MAX
    assert response.warnings == [
        'TTL of "9999h" exceeded the effective max_ttl of "768h"; TTL value is capped accordingly'
    ]


async def test_explicit_max_ttl_bounds_ttl_and_renewals(engine: Engine) -> None:
    auth = await engine.create(policies=["dev"], ttl="1h", explicit_max_ttl="90m")
    assert auth["lease_duration"] == HOUR
    assert (await engine.lookup(auth["client_token"]))["explicit_max_ttl"] == 90 * 60
    renewed = await engine.call(Op.UPDATE, "auth/token/renew", {"token": auth["client_token"], "increment": "5h"})
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 90 * 60
    assert (await engine.create(policies=["dev"], explicit_max_ttl="10m"))["lease_duration"] == 600


async def test_a_chosen_id_needs_sudo_and_vaults_format(engine: Engine) -> None:
    auth = await engine.create(id="my-token")
    assert auth["client_token"] == "my-token"
    assert (await engine.call(Op.READ, "auth/token/lookup-self", token="my-token")).data is not None
    for chosen, message in (
        ("my-token", "cannot create a token with a duplicate ID"),
        ("a.b", "custom token ID cannot have a '.' in the value"),
        ("hvs.abc", "custom token ID cannot have the 'hvs.' prefix"),
        ("s.abc", "custom token ID cannot have the 's.' prefix"),
    ):
        assert await bad_request(engine, "auth/token/create", {"id": chosen}) == message
    creator = await engine.token(policies=["creator"])
    message = await bad_request(engine, "auth/token/create", {"id": "mine", "policies": ["creator"]}, creator)
    assert message == "root or sudo privileges required to specify token id"


async def test_invalid_creation_requests(engine: Engine) -> None:
    for data, message in (
        ({"num_uses": -1}, "number of uses cannot be negative"),
        ({"type": "default"}, "invalid 'token_type' value"),
        ({"entity_alias": "bob"}, "'entity_alias' is only allowed in combination with token role"),
        ({"policies": ["response-wrapping"]}, 'cannot assign policy "response-wrapping"'),
    ):
        assert await bad_request(engine, "auth/token/create", data) == message


async def test_expiring_root_tokens_cannot_create_non_expiring_root_tokens(engine: Engine) -> None:
    expiring_root = await engine.token(ttl="1h")
    message = await bad_request(engine, "auth/token/create", {}, expiring_root)
    assert message == "expiring root tokens cannot create non-expiring root tokens"
    assert (await engine.create(expiring_root, ttl="10m"))["policies"] == ["root"]


# --- create: who may grant what ---------------------------------------------------------------------


async def test_a_child_gets_only_policies_its_parent_holds(engine: Engine) -> None:
    parent = await engine.token(policies=["creator", "dev"])
    child = await engine.create(parent, policies=["dev"])
    assert child["policies"] == ["default", "dev"]  # "default" comes along: the parent has it
    for asked in (["ops"], ["dev", "ops"], ["root"]):
        message = await bad_request(engine, "auth/token/create", {"policies": asked}, parent)
        assert message == "child policies must be subset of parent"
    assert (await engine.create(parent))["policies"] == ["creator", "default", "dev"]  # inherits all
    assert (await engine.create(parent, policies=["dev"], no_default_policy=True))["policies"] == ["dev"]


async def test_a_parent_without_default_does_not_pass_it_on(engine: Engine) -> None:
    parent = await engine.token(policies=["creator", "dev"], no_default_policy=True)
    assert (await engine.lookup(parent))["policies"] == ["creator", "dev"]
    assert (await engine.create(parent, policies=["dev"]))["policies"] == ["dev"]
    message = await bad_request(engine, "auth/token/create", {"policies": ["default"]}, parent)
    assert message == "child policies must be subset of parent"


async def test_sudo_grants_any_policy_but_never_root(engine: Engine) -> None:
    sudo = await engine.token(policies=["sudo-creator"])
    assert (await engine.create(sudo, policies=["ops"]))["policies"] == ["default", "ops"]
    message = await bad_request(engine, "auth/token/create", {"policies": ["root"]}, sudo)
    assert message == "root tokens may not be created without parent token being root"


async def test_orphans_need_sudo_unless_made_by_create_orphan(engine: Engine) -> None:
    creator = await engine.token(policies=["creator"])
    message = await bad_request(engine, "auth/token/create", {"no_parent": True}, creator)
    assert message == "root or sudo privileges required to create orphan token"
    orphan = await engine.create(creator, path="auth/token/create-orphan")
    assert orphan["orphan"] is True
    assert (await engine.lookup(orphan["client_token"]))["path"] == "auth/token/create-orphan"
    sudo = await engine.token(policies=["sudo-creator"])
    assert (await engine.create(sudo, no_parent=True))["orphan"] is True
    assert (await engine.create(no_parent=True))["orphan"] is True


async def test_periodic_tokens_need_sudo_and_renew_to_their_period(engine: Engine) -> None:
    creator = await engine.token(policies=["creator"])
    message = await bad_request(engine, "auth/token/create", {"period": "1h"}, creator)
    assert message == "root or sudo privileges required to create periodic token"
    periodic = await engine.create(policies=["dev"], period="24h")
    token = periodic["client_token"]
    assert periodic["lease_duration"] == 24 * HOUR and periodic["renewable"] is True
    assert (await engine.lookup(token))["period"] == 24 * HOUR
    for _ in range(40):  # 40 days of daily renewals: past the 768h max TTL
        engine.clock.advance(24 * HOUR - 60)
        renewed = await engine.call(Op.UPDATE, "auth/token/renew-self", {"increment": "100h"}, token=token)
        assert renewed.auth is not None and renewed.auth["lease_duration"] == 24 * HOUR
    assert await engine.alive(token)
    engine.clock.advance(24 * HOUR)
    assert not await engine.alive(token)


# --- use limits -------------------------------------------------------------------------------------


async def test_num_uses_runs_out_and_the_last_use_revokes_the_token(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/app", {"password": "s3cret"})
    auth = await engine.create(policies=["creator"], num_uses=3)
    token = auth["client_token"]
    assert auth["num_uses"] == 3
    assert (await engine.call(Op.READ, "secret/app", token=token)).data == {"password": "s3cret"}
    assert (await engine.lookup(token))["num_uses"] == 2
    await engine.call(Op.READ, "secret/app", token=token)
    last = (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data
    assert last is not None and last["num_uses"] == -1  # Vault's "revocation pending" during its last use
    assert not await engine.alive(token)
    assert isinstance(await engine.error(Op.READ, "secret/app", token=token), PermissionDenied)


async def test_a_use_limited_token_cannot_create_children(engine: Engine) -> None:
    limited = await engine.token(policies=["creator"], num_uses=5)
    message = await bad_request(engine, "auth/token/create", {"policies": ["creator"]}, limited)
    assert message == "restricted use token cannot generate child tokens"


async def test_denied_requests_do_not_use_up_a_token(engine: Engine) -> None:
    limited = await engine.token(policies=["creator"], num_uses=2)
    for _ in range(3):
        assert isinstance(await engine.error(Op.READ, "sys/mounts", token=limited), PermissionDenied)
    assert (await engine.lookup(limited))["num_uses"] == 2


# --- renew ------------------------------------------------------------------------------------------


async def test_renew_answers_with_an_auth_block(engine: Engine) -> None:
    auth = await engine.create(policies=["dev"], ttl="1h")
    engine.clock.advance(1800)
    response = await engine.call(Op.UPDATE, "auth/token/renew", {"token": auth["client_token"], "increment": "2h"})
    assert response.auth is not None and set(response.auth) == AUTH_KEYS
    assert response.auth["client_token"] == auth["client_token"] and response.auth["lease_duration"] == 2 * HOUR
    data = await engine.lookup(auth["client_token"])
    assert data["ttl"] == 2 * HOUR and data["creation_ttl"] == HOUR
    assert data["last_renewal_time"] == int(engine.clock.now.timestamp())
    assert data["expire_time"] == "2030-01-01T14:30:00Z"


async def test_renew_self_without_increment_grants_the_same_ttl_again(engine: Engine) -> None:
    token = await engine.token(policies=["dev"], ttl="1h")
    engine.clock.advance(3000)
    renewed = await engine.call(Op.UPDATE, "auth/token/renew-self", token=token)
    assert renewed.auth is not None and renewed.auth["lease_duration"] == HOUR
    assert (await engine.lookup(token))["ttl"] == HOUR


async def test_renew_accessor_never_reveals_the_token(engine: Engine) -> None:
    auth = await engine.create(policies=["dev"], ttl="1h")
    renewed = await engine.call(Op.UPDATE, "auth/token/renew-accessor", {"accessor": auth["accessor"]})
    assert renewed.auth is not None and renewed.auth["client_token"] == ""
    assert renewed.auth["accessor"] == auth["accessor"] and renewed.auth["lease_duration"] == HOUR
    assert await bad_request(engine, "auth/token/renew-accessor", {"accessor": "nope"}) == "invalid accessor"


async def test_what_cannot_be_renewed(engine: Engine) -> None:
    fixed = await engine.token(policies=["dev"], ttl="1h", renewable=False)
    for data, message in (
        ({"token": fixed}, "lease is not renewable"),
        ({"token": engine.root}, "lease is not renewable"),
        ({"token": "hvs.unknown"}, "token not found"),
        ({}, "missing token ID"),
    ):
        assert await bad_request(engine, "auth/token/renew", data) == message
    assert (await engine.lookup(fixed))["renewable"] is False


# --- revoke -----------------------------------------------------------------------------------------


async def test_revoking_a_parent_revokes_its_descendants_but_not_orphans(engine: Engine) -> None:
    parent = await engine.token(policies=["creator"])
    child = await engine.token(parent, policies=["creator"])
    grandchild = await engine.token(child, policies=["creator"])
    orphan = await engine.token(parent, path="auth/token/create-orphan", policies=["creator"])
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": parent})
    assert [await engine.alive(t) for t in (parent, child, grandchild, orphan)] == [False, False, False, True]


async def test_a_child_may_outlive_its_parents_ttl_but_not_its_revocation(engine: Engine) -> None:
    parent = await engine.token(policies=["creator"], ttl="1h")
    child = await engine.create(parent, policies=["creator"], ttl="10h")
    assert child["lease_duration"] == 10 * HOUR  # not capped by the parent
    engine.clock.advance(HOUR)
    assert not await engine.alive(parent)
    await engine.core.expiration.expire_due()  # the expiration manager revokes the expired tree
    assert not await engine.alive(child["client_token"])


async def test_revoke_self_and_revoke_by_value(engine: Engine) -> None:
    token = await engine.token(policies=["creator"])
    child = await engine.token(token)
    assert (await engine.call(Op.UPDATE, "auth/token/revoke-self", token=token)).data is None
    assert not await engine.alive(token) and not await engine.alive(child)
    assert await engine.alive(engine.root)
    other = await engine.token(policies=["dev"])
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": other})
    assert isinstance(await engine.error(Op.READ, "auth/token/lookup-self", token=other), PermissionDenied)
    assert await bad_request(engine, "auth/token/revoke", {}) == "missing token ID"
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": "hvs.unknown"})  # not an error


async def test_revoke_orphan_needs_sudo_and_keeps_the_children(engine: Engine) -> None:
    parent = await engine.token(policies=["creator"])
    child = await engine.token(parent, policies=["creator"])
    creator = await engine.token(policies=["creator"])
    message = await bad_request(engine, "auth/token/revoke-orphan", {"token": parent}, creator)
    assert message == "root or sudo privileges required to revoke and orphan"
    assert await engine.alive(parent)
    sudo = await engine.token(policies=["sudo-creator"])
    await engine.call(Op.UPDATE, "auth/token/revoke-orphan", {"token": parent}, token=sudo)
    assert not await engine.alive(parent)
    assert (await engine.lookup(child))["orphan"] is True
    message = await bad_request(engine, "auth/token/revoke-orphan", {"token": parent})
    assert message == "token to revoke not found"


async def test_revoke_accessor(engine: Engine) -> None:
    auth = await engine.create(policies=["creator"])
    child = await engine.token(auth["client_token"])
    await engine.call(Op.UPDATE, "auth/token/revoke-accessor", {"accessor": auth["accessor"]})
    assert not await engine.alive(auth["client_token"]) and not await engine.alive(child)
    response = await engine.call(Op.UPDATE, "auth/token/revoke-accessor", {"accessor": auth["accessor"]})
    assert response.warnings == ["No token found with this accessor"]


async def test_tidy_is_accepted_with_vaults_warning(engine: Engine) -> None:
    response = await engine.call(Op.UPDATE, "auth/token/tidy")
    assert response.status == 202 and response.warnings == [
        "Tidy operation successfully started. Any information from the operation will be printed to "
        "Vault's server logs."
    ]


async def test_tokens_never_reach_physical_storage_in_clear(engine: Engine) -> None:
    tokens = [engine.root, await engine.token(policies=["dev"]), await engine.token(id="chosen-value")]
    tokens.append(await engine.token(type="batch", policies=["dev"]))
    stored = await engine.raw_dump()
    for token in tokens:
        assert token.encode() not in stored and token[-12:].encode() not in stored
