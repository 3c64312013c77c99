"""Response wrapping through Core.handle over the real barrier: any response (a read, sys/wrapping/wrap,
a login, a token or secret ID creation) swapped for wrap_info when asked with a wrap TTL; the single-use
wrapping token that unwraps it once (its own caller, or a third party passing it in the body); lookup
without using it; rewrap; expiry on a fake clock; and the policies' min/max wrapping TTLs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.errors import BadRequest, EngineError, NotFound, PermissionDenied
from engine.request import Op, RawResponse, Request, Response
from engine.storage.view import all_keys
from engine.tokens import rfc3339
from tests.engine.auth_harness import Engine, make_engine
from tests.engine.core_harness import START

INVALID = "wrapping token is not valid or does not exist"


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    await engine.call(Op.UPDATE, "secret/app", {"password": "s3cret", "n": 7})
    yield engine
    engine.barrier.seal()


async def ask(
    engine: Engine,
    op: Op,
    path: str,
    data: dict[str, Any] | None = None,
    *,
    token: str | None = "root",
    wrap_ttl: int = 0,
) -> Response:
    """A request as root (default), as `token`, or without one (None), asking for wrapping."""
    client_token = engine.root if token == "root" else token
    request = Request(
        op, path, dict(data or {}), client_token=client_token, remote_address="10.1.2.3", wrap_ttl=wrap_ttl
    )
    return await engine.core.handle(request)


async def refused(engine: Engine, op: Op, path: str, data: dict[str, Any] | None = None, **kw: Any) -> EngineError:
    with pytest.raises(EngineError) as caught:
        await ask(engine, op, path, data, **kw)
    return caught.value


async def wrapped(engine: Engine, op: Op, path: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """Ask for `path` wrapped (300s unless told) and return its wrap_info."""
    kw.setdefault("wrap_ttl", 300)
    response = await ask(engine, op, path, data, **kw)
    assert response.data is None and response.auth is None and response.wrap_info is not None
    return response.wrap_info.to_json()


async def unwrap(engine: Engine, wrapping_token: str, *, third_party: bool = False) -> dict[str, Any]:
    """The wrapped response, unwrapped by its own token or by root passing it in the body."""
    if third_party:
        response = await ask(engine, Op.UPDATE, "sys/wrapping/unwrap", {"token": wrapping_token})
    else:
        response = await ask(engine, Op.UPDATE, "sys/wrapping/unwrap", token=wrapping_token)
    assert isinstance(response, RawResponse) and response.status == 200
    return response.envelope("ignored")


async def invalid(engine: Engine, path: str, data: dict[str, Any] | None = None, **kw: Any) -> None:
    error = await refused(engine, Op.UPDATE, path, data, **kw)
    assert isinstance(error, BadRequest) and error.message == INVALID


async def cubbyhole_keys(engine: Engine) -> list[str]:
    mounts = (await ask(engine, Op.READ, "sys/mounts")).data
    assert mounts is not None
    return await all_keys(engine.barrier, f"logical/{mounts['cubbyhole/']['uuid']}/")


# --- wrapping a response ---------------------------------------------------------------------------


async def test_a_wrapped_read_answers_with_wrap_info_only(engine: Engine) -> None:
    request = Request(Op.READ, "secret/app", client_token=engine.root, wrap_ttl=300)
    response = await engine.core.handle(request)
    assert response.data is None and response.auth is None and not response.lease_id
    body = response.envelope(request.id, request.mount_type)
    assert body["data"] is None and body["auth"] is None
    info = body["wrap_info"]
    assert set(info) == {"token", "accessor", "ttl", "creation_time", "creation_path"}  # no wrapped_accessor
    assert info["token"].startswith("hvs.") and len(info["accessor"]) == 24
    assert info["ttl"] == 300 and info["creation_path"] == "secret/app"
    assert info["creation_time"] == rfc3339(START)
    # The token's value never shows in a repr.
    assert info["token"] not in repr(response)

    unwrapped = await unwrap(engine, info["token"])
    assert unwrapped["data"] == {"password": "s3cret", "n": 7}
    # The response as it would have been sent, under the original request's id.
    assert unwrapped["request_id"] == request.id and unwrapped["wrap_info"] is None
    assert unwrapped["mount_type"] == "kv" and unwrapped["lease_duration"] == 768 * 3600


async def test_the_wrapping_token_is_a_single_use_orphan_with_the_wrapping_policy(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app", wrap_ttl=120)
    data = (await ask(engine, Op.UPDATE, "auth/token/lookup", {"token": info["token"]})).data
    assert data is not None
    assert data["policies"] == ["response-wrapping"] and data["num_uses"] == 1
    assert data["ttl"] == 120 and data["creation_ttl"] == 120 and data["explicit_max_ttl"] == 120
    assert data["path"] == "secret/app" and data["orphan"] is True and data["renewable"] is False
    assert data["accessor"] == info["accessor"]


async def test_unwrapping_works_once(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app")
    assert (await unwrap(engine, info["token"]))["data"]["password"] == "s3cret"
    await invalid(engine, "sys/wrapping/unwrap", token=info["token"])
    await invalid(engine, "sys/wrapping/unwrap", {"token": info["token"]})
    # The token is gone with its cubbyhole.
    error = await refused(engine, Op.UPDATE, "auth/token/lookup", {"token": info["token"]})
    assert isinstance(error, PermissionDenied)
    assert await cubbyhole_keys(engine) == []


async def test_a_third_party_unwraps_with_the_token_in_the_body_once(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app")
    await engine.put_policy("unwrapper", 'path "sys/wrapping/unwrap" { capabilities = ["update"] }')
    auth = (await ask(engine, Op.UPDATE, "auth/token/create", {"policies": ["unwrapper"]})).auth
    assert auth is not None
    response = await ask(engine, Op.UPDATE, "sys/wrapping/unwrap", {"token": info["token"]}, token=auth["client_token"])
    assert response.envelope("x")["data"] == {"password": "s3cret", "n": 7}
    await invalid(engine, "sys/wrapping/unwrap", {"token": info["token"]})
    await invalid(engine, "sys/wrapping/unwrap", token=info["token"])
    assert await cubbyhole_keys(engine) == []


async def test_unwrap_refuses_anything_but_a_live_wrapping_token(engine: Engine) -> None:
    await invalid(engine, "sys/wrapping/unwrap")  # root's own token wraps nothing
    await invalid(engine, "sys/wrapping/unwrap", {"token": engine.root})
    await invalid(engine, "sys/wrapping/unwrap", {"token": "hvs.unknown"})
    await invalid(engine, "sys/wrapping/unwrap", token="hvs.unknown")  # 400, not the 403 of a bad token
    for body, message in (
        ({"token": ""}, "error validating wrapping token: empty token in request body"),
        ({"token": 12}, "error validating wrapping token: could not decode token in request body"),
        ({}, "error validating wrapping token: token is empty"),
    ):
        error = await refused(engine, Op.UPDATE, "sys/wrapping/unwrap", body, token=None if not body else "root")
        assert isinstance(error, BadRequest) and error.message == message


async def test_a_third_party_still_needs_its_own_token_and_policy(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app")
    auth = (await ask(engine, Op.UPDATE, "auth/token/create", {"policies": ["x"], "no_default_policy": True})).auth
    assert auth is not None
    error = await refused(
        engine, Op.UPDATE, "sys/wrapping/unwrap", {"token": info["token"]}, token=auth["client_token"]
    )
    assert isinstance(error, PermissionDenied)
    # Refused before anything was used: the holder can still unwrap.
    assert (await unwrap(engine, info["token"]))["data"]["n"] == 7


async def test_wrap_wraps_the_body_and_needs_a_wrap_ttl(engine: Engine) -> None:
    error = await refused(engine, Op.UPDATE, "sys/wrapping/wrap", {"a": "b"})
    assert isinstance(error, BadRequest) and error.message == "endpoint requires response wrapping to be used"
    info = await wrapped(engine, Op.UPDATE, "sys/wrapping/wrap", {"a": "b", "nested": {"n": [1, 2]}}, wrap_ttl=60)
    assert info["creation_path"] == "sys/wrapping/wrap" and info["ttl"] == 60
    unwrapped = await unwrap(engine, info["token"], third_party=True)
    # The stored body is the plain envelope: no sys/ top-level copy of the data.
    assert unwrapped["data"] == {"a": "b", "nested": {"n": [1, 2]}} and "a" not in unwrapped


async def test_the_default_policy_may_wrap_and_unwrap(engine: Engine) -> None:
    auth = (await ask(engine, Op.UPDATE, "auth/token/create", {"policies": ["default"]})).auth
    assert auth is not None
    info = await wrapped(engine, Op.UPDATE, "sys/wrapping/wrap", {"k": "v"}, token=auth["client_token"])
    other = (await ask(engine, Op.UPDATE, "auth/token/create", {"policies": ["default"]})).auth
    assert other is not None
    response = await ask(
        engine, Op.UPDATE, "sys/wrapping/unwrap", {"token": info["token"]}, token=other["client_token"]
    )
    assert response.envelope("x")["data"] == {"k": "v"}


async def test_a_write_without_an_answer_is_not_wrapped(engine: Engine) -> None:
    before = await cubbyhole_keys(engine)
    response = await ask(engine, Op.UPDATE, "secret/other", {"a": "b"}, wrap_ttl=300)
    assert response.wrap_info is None and response.data is None
    assert await cubbyhole_keys(engine) == before


async def test_an_empty_listing_is_a_404_not_a_wrapped_nothing(engine: Engine) -> None:
    accessors = (await ask(engine, Op.LIST, "auth/token/accessors")).data
    assert accessors is not None
    assert isinstance(await refused(engine, Op.LIST, "secret/none", wrap_ttl=300), NotFound)
    assert (await ask(engine, Op.LIST, "auth/token/accessors")).data == accessors  # no wrapping token made
    info = await wrapped(engine, Op.LIST, "secret/")
    assert (await unwrap(engine, info["token"]))["data"] == {"keys": ["app"]}


# --- lookup ----------------------------------------------------------------------------------------


async def test_lookup_needs_no_token_and_does_not_use_the_wrapping_token(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app", wrap_ttl=90)
    expected = {"creation_ttl": 90, "creation_time": rfc3339(START), "creation_path": "secret/app"}
    for op in (Op.UPDATE, Op.READ):
        # Anonymous, with the token in the body (or the query, for a GET).
        assert (await ask(engine, op, "sys/wrapping/lookup", {"token": info["token"]}, token=None)).data == expected
    # First party: the wrapping token as the caller's own.
    assert (await ask(engine, Op.UPDATE, "sys/wrapping/lookup", token=info["token"])).data == expected
    assert (await unwrap(engine, info["token"]))["data"]["n"] == 7
    await invalid(engine, "sys/wrapping/lookup", {"token": info["token"]}, token=None)


async def test_lookup_refuses_other_tokens(engine: Engine) -> None:
    await invalid(engine, "sys/wrapping/lookup", {"token": engine.root}, token=None)
    await invalid(engine, "sys/wrapping/lookup", {"token": "hvs.unknown"}, token=None)
    error = await refused(engine, Op.UPDATE, "sys/wrapping/lookup", token=None)
    assert isinstance(error, BadRequest) and error.message == "error validating wrapping token: token is empty"


# --- rewrap ----------------------------------------------------------------------------------------


async def test_rewrap_moves_the_response_to_a_new_token_and_kills_the_old(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app", wrap_ttl=200)
    engine.clock.advance(50)
    response = await ask(engine, Op.UPDATE, "sys/wrapping/rewrap", {"token": info["token"]})
    assert response.data is None and response.wrap_info is not None
    again = response.wrap_info.to_json()
    assert again["token"] != info["token"] and again["accessor"] != info["accessor"]
    # The original creation TTL and path, a new creation time.
    assert again["ttl"] == 200 and again["creation_path"] == "secret/app"
    assert again["creation_time"] == rfc3339(engine.clock())
    await invalid(engine, "sys/wrapping/unwrap", token=info["token"])
    looked_up = (await ask(engine, Op.UPDATE, "sys/wrapping/lookup", {"token": again["token"]}, token=None)).data
    assert looked_up is not None and looked_up["creation_path"] == "secret/app" and looked_up["creation_ttl"] == 200
    assert (await unwrap(engine, again["token"]))["data"] == {"password": "s3cret", "n": 7}


async def test_a_wrapping_token_may_not_rewrap_itself(engine: Engine) -> None:
    # Its policy grants sys/wrapping/unwrap only, as Vault's response-wrapping policy.
    info = await wrapped(engine, Op.READ, "secret/app")
    assert isinstance(await refused(engine, Op.UPDATE, "sys/wrapping/rewrap", token=info["token"]), PermissionDenied)
    assert (await unwrap(engine, info["token"]))["data"]["n"] == 7
    assert await cubbyhole_keys(engine) == []


# --- expiry ----------------------------------------------------------------------------------------


async def test_an_expired_wrapping_token_unwraps_nothing_and_its_cubbyhole_goes(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app", wrap_ttl=60)
    kept = await wrapped(engine, Op.READ, "secret/app", wrap_ttl=600)
    assert len(await cubbyhole_keys(engine)) == 4  # response and wrapinfo of each
    engine.clock.advance(61)
    await invalid(engine, "sys/wrapping/unwrap", token=info["token"])
    await invalid(engine, "sys/wrapping/lookup", {"token": info["token"]}, token=None)
    assert await engine.core.expiration.expire_due() == 1
    assert len(await cubbyhole_keys(engine)) == 2
    assert (await unwrap(engine, kept["token"]))["data"]["n"] == 7


# --- policies --------------------------------------------------------------------------------------

WRAPPED_ONLY = """
path "secret/app" {
  capabilities = ["read"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "10m"
}
path "secret/max-only" {
  capabilities = ["read"]
  max_wrapping_ttl = 300
}
"""


async def test_policy_wrapping_ttl_bounds_are_enforced(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/max-only", {"v": "1"})
    await engine.put_policy("wrapped-only", WRAPPED_ONLY)
    auth = (await ask(engine, Op.UPDATE, "auth/token/create", {"policies": ["wrapped-only"]})).auth
    assert auth is not None
    caller = auth["client_token"]
    for ttl in (0, 30, 59, 601, 3600):
        assert isinstance(await refused(engine, Op.READ, "secret/app", token=caller, wrap_ttl=ttl), PermissionDenied)
    for ttl in (60, 120, 600):
        info = await wrapped(engine, Op.READ, "secret/app", token=caller, wrap_ttl=ttl)
        assert info["ttl"] == ttl
    # A max alone still requires wrapping.
    assert isinstance(await refused(engine, Op.READ, "secret/max-only", token=caller), PermissionDenied)
    assert isinstance(await refused(engine, Op.READ, "secret/max-only", token=caller, wrap_ttl=301), PermissionDenied)
    assert (await wrapped(engine, Op.READ, "secret/max-only", token=caller, wrap_ttl=1))["ttl"] == 1
    # Root is bound by no policy.
    assert (await ask(engine, Op.READ, "secret/app")).data == {"password": "s3cret", "n": 7}


# --- logins and tokens -----------------------------------------------------------------------------


async def test_a_wrapped_login_hides_the_token_until_unwrapped(engine: Engine) -> None:
    await engine.enable_auth("userpass", "userpass")
    await engine.call(Op.UPDATE, "auth/userpass/users/bob", {"password": "pw-of-bob", "token_policies": "default"})
    info = await wrapped(engine, Op.UPDATE, "auth/userpass/login/bob", {"password": "pw-of-bob"}, token=None)
    assert info["creation_path"] == "auth/userpass/login/bob"
    unwrapped = await unwrap(engine, info["token"])
    auth = unwrapped["auth"]
    assert unwrapped["data"] is None and auth["accessor"] == info["wrapped_accessor"]
    assert auth["policies"] == ["default"] and auth["metadata"] == {"username": "bob"}
    me = (await ask(engine, Op.READ, "auth/token/lookup-self", token=auth["client_token"])).data
    assert me is not None and me["display_name"] == "userpass-bob"


async def test_a_wrapped_token_creation_names_the_wrapped_accessor(engine: Engine) -> None:
    info = await wrapped(engine, Op.UPDATE, "auth/token/create", {"policies": ["default"], "ttl": "1h"})
    looked_up = (
        await ask(engine, Op.UPDATE, "auth/token/lookup-accessor", {"accessor": info["wrapped_accessor"]})
    ).data
    assert looked_up is not None and looked_up["policies"] == ["default"]
    auth = (await unwrap(engine, info["token"], third_party=True))["auth"]
    assert auth["accessor"] == info["wrapped_accessor"]
    assert (await ask(engine, Op.READ, "auth/token/lookup-self", token=auth["client_token"])).data is not None


async def test_a_wrapped_secret_id_logs_in_once_unwrapped(engine: Engine) -> None:
    await engine.enable_auth("approle", "approle")
    await engine.call(Op.UPDATE, "auth/approle/role/web", {"token_policies": "default"})
    role = (await ask(engine, Op.READ, "auth/approle/role/web/role-id")).data
    assert role is not None
    info = await wrapped(engine, Op.UPDATE, "auth/approle/role/web/secret-id", wrap_ttl=120)
    assert info["creation_path"] == "auth/approle/role/web/secret-id"
    data = (await unwrap(engine, info["token"]))["data"]
    auth = await engine.login("auth/approle/login", {"role_id": role["role_id"], "secret_id": data["secret_id"]})
    assert auth["policies"] == ["default"]


async def test_reading_cubbyhole_response_with_the_wrapping_token_is_deprecated_and_uses_it(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app")
    response = await ask(engine, Op.READ, "cubbyhole/response", token=info["token"])
    assert response.data is not None
    assert json.loads(response.data["response"])["data"] == {"password": "s3cret", "n": 7}
    assert any("deprecated" in warning for warning in response.warnings)
    await invalid(engine, "sys/wrapping/unwrap", token=info["token"])


async def test_a_wrapping_token_can_do_nothing_else(engine: Engine) -> None:
    info = await wrapped(engine, Op.READ, "secret/app")
    for op, path in ((Op.READ, "secret/app"), (Op.UPDATE, "cubbyhole/response"), (Op.READ, "cubbyhole/wrapinfo")):
        assert isinstance(await refused(engine, op, path, {"x": "y"}, token=info["token"]), PermissionDenied)
    assert (await unwrap(engine, info["token"]))["data"]["n"] == 7
