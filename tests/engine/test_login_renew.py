"""Renewing a login token asks the auth method that issued it, as Vault's RenewToken does: through
Core.handle over the real barrier, with a fake clock. userpass and approle login tokens renew with the
user's or role's current TTLs, within the auth mount's current limits; once the user or role is gone, or
the user's policies changed, renewal is refused and the token stays as it was. sys/leases/renew still
refuses token leases. The method is found by the mount accessor recorded at login, not by the path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from engine.backends.userpass import UserpassBackend
from engine.errors import BadRequest, EngineError, NotFound
from engine.expiration import LoginRenewal
from engine.framework import Backend
from engine.mounts import MountEntry
from engine.request import Op, Request
from engine.router import Route
from engine.storage.memory import MemoryStorage
from engine.tokens import TokenEntry
from tests.engine.auth_harness import Engine, make_engine
from tests.engine.core_harness import Clock

PASSWORD = "correct horse battery staple"
HOUR = 3600


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    await engine.enable_auth("userpass", "userpass")
    await engine.enable_auth("approle", "approle")
    yield engine
    engine.barrier.seal()


async def alice(engine: Engine, **settings: Any) -> dict[str, Any]:
    """Create (or update) the user alice and log in as her: Vault's auth block."""
    await engine.call(Op.UPDATE, "auth/userpass/users/alice", {"password": PASSWORD, **settings})
    return await engine.login("auth/userpass/login/alice", {"password": PASSWORD})


async def web(engine: Engine, **settings: Any) -> dict[str, Any]:
    """Create the approle role web and log in with it: Vault's auth block."""
    await engine.call(Op.UPDATE, "auth/approle/role/web", settings)
    role_id = (await engine.call(Op.READ, "auth/approle/role/web/role-id")).data
    secret_id = (await engine.call(Op.UPDATE, "auth/approle/role/web/secret-id")).data
    assert role_id is not None and secret_id is not None
    body = {"role_id": role_id["role_id"], "secret_id": secret_id["secret_id"]}
    return await engine.login("auth/approle/login", body)


async def renew_self(engine: Engine, token: str, **body: Any) -> dict[str, Any]:
    response = await engine.call(Op.UPDATE, "auth/token/renew-self", body, token=token)
    assert response.auth is not None, response
    return response.auth


async def lookup(engine: Engine, token: str) -> dict[str, Any]:
    data = (await engine.call(Op.UPDATE, "auth/token/lookup", {"token": token})).data
    assert data is not None
    return data


def renewals(auth: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The three ways to renew the token of `auth`, each as (path, body), made as root."""
    return [
        ("auth/token/renew-self", {}),  # made as the token itself, see refused()
        ("auth/token/renew", {"token": auth["client_token"]}),
        ("auth/token/renew-accessor", {"accessor": auth["accessor"]}),
    ]


async def renew_by(engine: Engine, auth: dict[str, Any], path: str, body: dict[str, Any]) -> Any:
    token = auth["client_token"] if path.endswith("renew-self") else "root"
    return await engine.call(Op.UPDATE, path, body, token=token)


# --- userpass ----------------------------------------------------------------------------------------


async def test_a_userpass_login_token_renews_every_way_with_the_users_ttl(engine: Engine) -> None:
    auth = await alice(engine, token_policies="dev", token_ttl="1h")
    assert auth["lease_duration"] == HOUR
    for minutes, (path, body) in zip((10, 20, 30), renewals(auth), strict=True):
        engine.clock.advance(minutes * 60)
        response = await renew_by(engine, auth, path, body)
        assert response.auth is not None and response.auth["lease_duration"] == HOUR, path
        assert response.auth["policies"] == ["default", "dev"]
        shown = await lookup(engine, auth["client_token"])
        assert shown["ttl"] == HOUR and shown["last_renewal"] == engine.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    # What the renew check needs is kept with the token; the password never is.
    assert not any(PASSWORD.encode() in value for value in await engine.stored_values())


async def test_renewal_is_refused_once_the_user_is_deleted_and_the_token_stays_as_it_was(engine: Engine) -> None:
    auth = await alice(engine, token_policies="dev", token_ttl="1h")
    engine.clock.advance(600)
    before = await lookup(engine, auth["client_token"])
    await engine.call(Op.DELETE, "auth/userpass/users/alice")
    for path, body in renewals(auth):
        engine.clock.advance(60)
        response = await renew_by(engine, auth, path, body)
        # Vault's pathLoginRenew returns nothing for a user that is gone: an empty answer, no auth.
        assert (response.auth, response.data, response.lease_duration) == (None, None, 0), path
        # Unchanged but for the time left, which runs on.
        after = await lookup(engine, auth["client_token"])
        assert {**after, "ttl": before["ttl"]} == before and "last_renewal" not in after


async def test_renewal_is_refused_with_vaults_message_once_the_users_policies_changed(engine: Engine) -> None:
    auth = await alice(engine, token_policies="dev", token_ttl="1h")
    engine.clock.advance(600)
    before = await lookup(engine, auth["client_token"])
    await engine.call(Op.UPDATE, "auth/userpass/users/alice/policies", {"token_policies": "dev,ops"})
    for path, body in renewals(auth):
        token = auth["client_token"] if path.endswith("renew-self") else "root"
        error = await engine.error(Op.UPDATE, path, body, token=token)
        assert isinstance(error, BadRequest), path
        assert error.message == "failed to renew entry: policies have changed, not renewing"
    assert await lookup(engine, auth["client_token"]) == before
    # Only "default" coming or going is no change, as Vault's EquivalentPolicies has it.
    await engine.call(Op.UPDATE, "auth/userpass/users/alice/policies", {"token_policies": "dev,default"})
    assert (await renew_self(engine, auth["client_token"]))["lease_duration"] == HOUR


async def test_a_changed_token_ttl_on_the_user_applies_on_renew(engine: Engine) -> None:
    auth = await alice(engine, token_policies="dev", token_ttl="1h", token_max_ttl="4h")
    engine.clock.advance(1800)
    await engine.call(Op.UPDATE, "auth/userpass/users/alice", {"token_ttl": "2h"})
    assert (await renew_self(engine, auth["client_token"]))["lease_duration"] == 2 * HOUR
    assert (await lookup(engine, auth["client_token"]))["expire_time"] == "2030-01-01T14:30:00Z"
    # A lowered max TTL caps the renewal, counted from the login, with Vault's warning.
    await engine.call(Op.UPDATE, "auth/userpass/users/alice", {"token_ttl": "1h", "token_max_ttl": "90m"})
    response = await engine.call(Op.UPDATE, "auth/token/renew-self", {}, token=auth["client_token"])
    assert response.auth is not None and response.auth["lease_duration"] == HOUR
    engine.clock.advance(1800)
    response = await engine.call(Op.UPDATE, "auth/token/renew-self", {}, token=auth["client_token"])
    assert response.auth is not None and response.auth["lease_duration"] == 1800
    assert response.warnings == [
        'TTL of "1h" exceeded the effective max_ttl of "30m"; TTL value is capped accordingly'
    ]


async def test_a_user_without_a_token_ttl_renews_with_the_auth_mounts_current_default(engine: Engine) -> None:
    auth = await alice(engine, token_policies="dev")
    assert auth["lease_duration"] == 768 * HOUR
    await engine.call(Op.UPDATE, "sys/auth/userpass/tune", {"default_lease_ttl": "20m"})
    assert (await renew_self(engine, auth["client_token"]))["lease_duration"] == 1200


async def test_sys_leases_renew_still_refuses_a_login_tokens_lease(engine: Engine) -> None:
    auth = await alice(engine, token_policies="dev", token_ttl="1h")
    listed = (await engine.call(Op.LIST, "sys/leases/lookup/auth/userpass/login/alice/")).data
    assert listed is not None and len(listed["keys"]) == 1
    lease_id = "auth/userpass/login/alice/" + listed["keys"][0]
    engine.clock.advance(600)
    before = await lookup(engine, auth["client_token"])
    error = await engine.error(Op.UPDATE, "sys/leases/renew", {"lease_id": lease_id})
    assert isinstance(error, BadRequest) and error.message == "tokens cannot be renewed through this endpoint"
    assert await lookup(engine, auth["client_token"]) == before


# --- approle -----------------------------------------------------------------------------------------


async def test_an_approle_login_token_renews_with_the_roles_current_ttl_even_after_a_restart(
    engine: Engine,
) -> None:
    auth = await web(engine, token_policies="app", token_ttl="1h")
    engine.clock.advance(600)
    assert (await renew_self(engine, auth["client_token"]))["lease_duration"] == HOUR
    await engine.call(Op.UPDATE, "auth/approle/role/web", {"token_ttl": "3h"})
    # The role's name is kept with the token (the method's internal data), behind the barrier.
    restarted = await engine.restart()
    renewed = await restarted.call(Op.UPDATE, "auth/token/renew-accessor", {"accessor": auth["accessor"]})
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 3 * HOUR


async def test_renewal_is_refused_once_the_role_is_deleted_and_the_token_stays_as_it_was(engine: Engine) -> None:
    auth = await web(engine, token_policies="app", token_ttl="1h")
    engine.clock.advance(600)
    before = await lookup(engine, auth["client_token"])
    await engine.call(Op.DELETE, "auth/approle/role/web")
    for path, body in renewals(auth):
        token = auth["client_token"] if path.endswith("renew-self") else "root"
        error = await engine.error(Op.UPDATE, path, body, token=token)
        assert isinstance(error, BadRequest), path
        assert error.message == 'failed to renew entry: role "web" does not exist during renewal'
    assert await lookup(engine, auth["client_token"]) == before


# --- tokens the token store made ---------------------------------------------------------------------


async def test_tokens_made_by_the_token_store_still_renew_on_their_own(engine: Engine) -> None:
    made = await engine.call(Op.UPDATE, "auth/token/create", {"policies": "dev", "ttl": "1h"})
    assert made.auth is not None
    engine.clock.advance(600)
    assert (await renew_self(engine, made.auth["client_token"]))["lease_duration"] == HOUR


# --- finding the auth method -------------------------------------------------------------------------


async def test_the_auth_method_is_found_by_its_mount_accessor_wherever_it_is_mounted() -> None:
    clock = Clock()
    mount = MountEntry("auth/userpass/", "userpass")
    backend, storage = UserpassBackend(mount, clock), MemoryStorage()
    await backend.handle(Request(Op.UPDATE, "users/alice", {"password": PASSWORD, "token_ttl": "2h"}), storage)
    routes = [Route(mount, backend, storage)]
    token = TokenEntry(
        id_hash="h", accessor="a", policies=["default"], path="auth/userpass/login/alice", display_name="alice",
        creation_time=0, mount_accessor=mount.accessor, internal_data={"username": "alice"},
    )
    mount.path = "auth/moved/"  # the token's path no longer leads there; its accessor still does
    terms = await LoginRenewal(lambda: routes)(token)
    assert terms is not None and terms.auth.ttl == 2 * HOUR and terms.limits.max_ttl == 768 * HOUR

    gone = await engine_error(LoginRenewal(lambda: [])(token))
    assert isinstance(gone, NotFound) and gone.message == "failed to renew entry: unsupported path"
    plain = Route(MountEntry("auth/plain/", "plain", accessor=mount.accessor), Backend(), storage)
    unable = await engine_error(LoginRenewal(lambda: [plain])(token))
    assert isinstance(unable, BadRequest) and unable.message == "this auth type doesn't support renew"


async def engine_error(call: Awaitable[object]) -> EngineError:
    with pytest.raises(EngineError) as caught:
        await call
    return caught.value
