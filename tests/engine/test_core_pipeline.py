"""The request pipeline's new duties: login paths without a token, the login flow that makes a token
of an auth method's answer, token use counting, the caller's entry on the request, secrets on
engines that never lease, and the background job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.backends import registry
from engine.core import Core
from engine.errors import EngineError, PermissionDenied
from engine.framework import Backend, Field, FieldData, FieldType, Path, SpecialPaths
from engine.mounts import MountEntry
from engine.request import Auth, Op, Request, Response
from engine.storage.base import Storage
from engine.tokens import Clock
from tests.engine.leasing import CredsBackend, World, make_world, register_engines, unsealed_barrier

HOUR = 3600
AUTH_KEYS = {
    "client_token", "accessor", "policies", "token_policies", "metadata", "lease_duration", "renewable",
    "entity_id", "token_type", "orphan", "mfa_requirement", "num_uses",
}


class PasswordAuth(Backend):
    """An auth method: login/<user> with password "right" answers with an Auth; whoami needs a token."""

    special_paths = SpecialPaths(unauthenticated=("login/*",))

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.ttl = 0
        self.paths = [
            Path(
                r"login/(?P<user>\w+)",
                fields={"password": Field(FieldType.STRING)},
                operations={Op.UPDATE: self.login},
            ),
            Path("whoami", operations={Op.READ: self.whoami}),
        ]

    async def login(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        self.seen.append(req)
        if data.get("password") != "right":
            raise PermissionDenied("invalid username or password")
        user = data.get("user")
        return Response(login=Auth(policies=["app"], metadata={"username": user}, display_name=user, ttl=self.ttl))

    async def whoami(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        self.seen.append(req)
        return Response(data={"policies": req.token_entry.policies})


class OpenSecrets(CredsBackend):
    """Hands out a secret on a path anyone may call (a misconfigured engine)."""

    special_paths = SpecialPaths(unauthenticated=("creds/*",))


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    auth = PasswordAuth()

    def factory(entry: MountEntry, clock: Clock) -> Backend:
        return auth

    monkeypatch.setitem(registry.AUTH_METHODS, "password", factory)
    world = await make_world(monkeypatch)
    world.engines["auth"] = auth  # type: ignore[assignment]
    await world.call(Op.UPDATE, "sys/auth/pw", {"type": "password"})
    yield world
    world.barrier.seal()


def auth_backend(world: World) -> PasswordAuth:
    return world.engines["auth"]  # type: ignore[return-value]


async def login(world: World, user: str = "alice", *, token: str = "") -> dict[str, Any]:
    request = Request(Op.UPDATE, f"auth/pw/login/{user}", {"password": "right"}, client_token=token or None)
    auth = (await world.core.handle(request)).auth
    assert auth is not None
    return auth


# --- login paths ---------------------------------------------------------------------------------


async def test_a_login_needs_no_token_and_answers_vaults_auth_block(world: World) -> None:
    auth = await login(world)
    assert set(auth) == AUTH_KEYS
    assert auth["policies"] == ["app", "default"] and auth["metadata"] == {"username": "alice"}
    assert auth["lease_duration"] == 768 * HOUR and auth["renewable"] is True
    assert auth["token_type"] == "service" and auth["orphan"] is True and auth["mfa_requirement"] is None
    looked_up = (await world.call(Op.READ, "auth/token/lookup-self", token=auth["client_token"])).data
    assert looked_up is not None and looked_up["path"] == "auth/pw/login/alice"
    assert looked_up["display_name"] == "pw-alice"
    # Its lease sits under the login path, where Vault puts it.
    keys = (await world.call(Op.LIST, "sys/leases/lookup/auth/pw/login/alice/")).data
    assert keys is not None and len(keys["keys"]) == 1


async def test_a_presented_token_does_not_matter_on_a_login_path(world: World) -> None:
    for token in ("hvs.not-a-token", world.root):
        assert (await login(world, token=token))["client_token"] != token


async def test_a_failed_login_is_the_backends_answer(world: World) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await world.core.handle(Request(Op.UPDATE, "auth/pw/login/alice", {"password": "wrong"}))
    assert caught.value.message == "invalid username or password"


async def test_other_paths_of_an_auth_method_still_need_a_token(world: World) -> None:
    with pytest.raises(PermissionDenied):
        await world.core.handle(Request(Op.READ, "auth/pw/whoami"))
    assert auth_backend(world).seen == []  # refused before the backend was reached
    answer = (await world.call(Op.READ, "auth/pw/whoami")).data
    assert answer == {"policies": ["root"]}
    seen = auth_backend(world).seen[-1]
    assert seen.token_entry is not None and seen.token_entry.policies == ["root"]
    assert seen.mount_accessor.startswith("auth_password_")


async def test_login_ttl_is_bounded_by_the_auth_mount(world: World) -> None:
    await world.call(
        Op.UPDATE, "sys/auth/short", {"type": "password", "config": {"default_lease_ttl": "1h", "max_lease_ttl": "2h"}}
    )
    request = Request(Op.UPDATE, "auth/short/login/bob", {"password": "right"})
    assert ((await world.core.handle(request)).auth or {})["lease_duration"] == HOUR
    auth_backend(world).ttl = 5 * HOUR
    capped = await world.core.handle(Request(Op.UPDATE, "auth/short/login/bob", {"password": "right"}))
    assert (capped.auth or {})["lease_duration"] == 2 * HOUR
    assert capped.warnings == ['TTL of "5h" exceeded the effective max_ttl of "2h"; TTL value is capped accordingly']


async def test_a_login_token_expires_through_the_manager(world: World) -> None:
    auth_backend(world).ttl = HOUR
    token = (await login(world))["client_token"]
    world.clock.advance(HOUR)
    await world.core.expiration.tick()
    with pytest.raises(PermissionDenied):
        await world.call(Op.READ, "auth/token/lookup-self", token=token)
    assert (await world.error(Op.LIST, "sys/leases/lookup/auth/pw/")).status == 404


async def test_revoke_prefix_on_a_login_path_logs_the_user_out(world: World) -> None:
    token = (await login(world))["client_token"]
    other = (await login(world, "bob"))["client_token"]
    await world.call(Op.UPDATE, "sys/leases/revoke-prefix/auth/pw/login/alice")
    with pytest.raises(PermissionDenied):
        await world.call(Op.READ, "auth/token/lookup-self", token=token)
    assert (await world.call(Op.READ, "auth/token/lookup-self", token=other)).data is not None


async def test_disabling_an_auth_method_revokes_its_tokens(world: World) -> None:
    token = (await login(world))["client_token"]
    await world.call(Op.DELETE, "sys/auth/pw")
    with pytest.raises(PermissionDenied):
        await world.call(Op.READ, "auth/token/lookup-self", token=token)


# --- token use -----------------------------------------------------------------------------------


async def test_each_authorised_request_counts_a_use(world: World) -> None:
    token, _ = await world.token(policies=["root"], num_uses=2, ttl="1h")
    lease = await world.lease("db/creds/app", token=token)
    await world.call(Op.READ, "auth/pw/whoami", token=token)
    # The second use was the last: the token went when that request ended, and its lease with it.
    with pytest.raises(PermissionDenied):
        await world.call(Op.READ, "auth/pw/whoami", token=token)
    assert not await world.exists(lease.lease_id)
    assert world.engines["creds"].revoked == ["app-0"]


async def test_a_refused_request_does_not_count_a_use(world: World) -> None:
    token, _ = await world.token(policies=["default"], num_uses=1, ttl="1h")
    with pytest.raises(PermissionDenied):
        await world.call(Op.READ, "db/creds/app", token=token)  # not allowed by "default"
    assert (await world.call(Op.READ, "auth/token/lookup-self", token=token)).data is not None


# --- secrets -------------------------------------------------------------------------------------


async def test_an_engine_of_a_kv_type_gets_a_ttl_but_no_lease(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SECRET_ENGINES, "generic", lambda entry: world.engines["creds"])
    await world.mount("gen", "generic")
    response = await world.call(Op.READ, "gen/creds/app", {"ttl": 600})
    assert response.lease_id == "" and response.lease_duration == 600 and response.renewable is False
    assert (await world.call(Op.READ, "sys/leases/count", {"type": "all"})).data == {"lease_count": 0, "counts": {}}


async def test_a_secret_without_a_token_is_refused_and_taken_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_secrets = OpenSecrets()
    monkeypatch.setitem(registry.SECRET_ENGINES, "open", lambda entry: open_secrets)
    await world.mount("open", "open")
    with pytest.raises(EngineError) as caught:
        await world.core.handle(Request(Op.READ, "open/creds/app"))
    assert caught.value.message == "cannot register a lease with an empty client token"
    assert open_secrets.revoked == ["app-0"]


async def test_disabling_a_secret_engine_revokes_its_leases(world: World) -> None:
    lease = await world.lease("db/creds/app")
    await world.call(Op.DELETE, "sys/mounts/db")
    assert world.engines["creds"].revoked == ["app-0"]
    assert not await world.exists(lease.lease_id)
    assert (await world.error(Op.LIST, "sys/leases/lookup/db/")).status == 404


# --- background ----------------------------------------------------------------------------------


async def test_background_is_the_expiration_managers_one_task(monkeypatch: pytest.MonkeyPatch) -> None:
    register_engines(monkeypatch, {})
    core = Core(await unsealed_barrier())
    assert core.background() == []
    await core.setup()
    jobs = core.background()
    # The expiration manager's task, then the backends' periodic work.
    assert len(jobs) == 2 and jobs[0] == core.expiration.run
    await core.teardown()
    assert core.background() == []


async def test_the_background_task_revokes_due_leases_and_stops(world: World) -> None:
    engine = world.engines["creds"]
    stopping = asyncio.Event()
    job = world.core.background()[0]
    task = asyncio.create_task(job(stopping))
    try:
        async with asyncio.timeout(5):
            await asyncio.sleep(0)  # the task runs, finds nothing due and sleeps
            # A new first lease wakes it; by the time it looks, the (fake) clock says it is due.
            await world.lease("db/creds/app", ttl=5)
            world.clock.advance(5)
            while "app-0" not in engine.revoked:
                await asyncio.sleep(0)
    finally:
        stopping.set()
        async with asyncio.timeout(5):
            await task
    assert task.done() and task.exception() is None
