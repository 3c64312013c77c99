"""Policies through Core.handle with the real barrier: sys/policy, sys/policies/acl and sys/capabilities*
answers, and tokens with narrow policies getting exactly what their policies grant (sudo, parameters,
path tricks included)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import EngineError
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage

APP = """
# what the app may touch
path "secret/app/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/app" {
  capabilities = ["list"]
}
"""


@dataclass
class Engine:
    core: Core
    root: str

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None) -> Response:
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=token or self.root))

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None
    ) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data, token)
        return caught.value

    async def status(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None) -> int:
        try:
            await self.call(op, path, data, token)
        except EngineError as exc:
            return exc.status
        return 200

    async def token(self, *policies: str, **extra: Any) -> str:
        response = await self.call(Op.UPDATE, "auth/token/create", {"policies": list(policies), **extra})
        assert response.auth is not None
        return str(response.auth["client_token"])

    async def policy(self, name: str, text: str) -> None:
        await self.call(Op.UPDATE, f"sys/policy/{name}", {"policy": text})


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    barrier = Barrier(MemoryStorage())
    key = new_key()
    await barrier.initialize(key)
    await barrier.unseal(key)
    core = Core(barrier)
    await core.setup()
    engine = Engine(core, await core.create_root_token())
    await engine.policy("app", APP)
    await engine.call(Op.UPDATE, "secret/app/config", {"db": "app-db"})
    await engine.call(Op.UPDATE, "secret/other/config", {"db": "other-db"})
    yield engine
    barrier.seal()


# --- sys/policy and sys/policies/acl -------------------------------------------------------------


async def test_legacy_policy_api_shapes(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/policy/Temp", {"policy": 'path "secret/temp/*" { capabilities = ["read"] }'})
    listing = await engine.call(Op.READ, "sys/policy")
    assert listing.data == {"keys": ["app", "default", "temp", "root"], "policies": ["app", "default", "temp", "root"]}
    body = listing.envelope("id", "system")
    assert body["policies"] == body["data"]["policies"]  # Vault also puts sys/ data at the top level
    read = await engine.call(Op.READ, "sys/policy/temp")
    assert read.data == {"name": "temp", "rules": 'path "secret/temp/*" { capabilities = ["read"] }'}
    assert await engine.call(Op.DELETE, "sys/policy/temp") is not None
    assert (await engine.error(Op.READ, "sys/policy/temp")).status == 404
    assert "temp" not in (await engine.call(Op.READ, "sys/policy")).data["keys"]  # type: ignore[index]


async def test_acl_policy_api_shapes(engine: Engine) -> None:
    text = 'path "kv/*" { capabilities = ["list"] }'
    assert (await engine.call(Op.UPDATE, "sys/policies/acl/kv-lister", {"policy": text})).status is None
    assert (await engine.call(Op.LIST, "sys/policies/acl")).data == {"keys": ["app", "default", "kv-lister", "root"]}
    assert (await engine.call(Op.READ, "sys/policies/acl/kv-lister")).data == {"name": "kv-lister", "policy": text}
    await engine.call(Op.DELETE, "sys/policies/acl/kv-lister")
    assert (await engine.error(Op.READ, "sys/policies/acl/kv-lister")).status == 404


async def test_json_and_base64_policies_are_accepted(engine: Engine) -> None:
    as_json = '{"path": {"secret/j/*": {"capabilities": ["read"]}}}'
    await engine.policy("j", as_json)
    assert (await engine.call(Op.READ, "sys/policies/acl/j")).data["policy"] == as_json  # type: ignore[index]
    hcl = 'path "secret/b/*" { capabilities = ["read"] }'
    await engine.policy("b", base64.b64encode(hcl.encode()).decode())
    assert (await engine.call(Op.READ, "sys/policy/b")).data["rules"] == hcl  # type: ignore[index]


async def test_rules_is_the_deprecated_spelling(engine: Engine) -> None:
    response = await engine.call(Op.UPDATE, "sys/policy/old", {"rules": 'path "x" { capabilities = ["read"] }'})
    assert response.warnings == ["'rules' is deprecated, please use 'policy' instead"]
    assert (await engine.call(Op.READ, "sys/policy/old")).data["rules"] == 'path "x" { capabilities = ["read"] }'  # type: ignore[index]


@pytest.mark.parametrize(
    ("op", "path", "data", "message"),
    [
        (Op.UPDATE, "sys/policy/empty", {}, "'policy' parameter not supplied or empty"),
        (Op.UPDATE, "sys/policy/bad", {"policy": 'path "x" { capabilities = ["fly"] }'},
         'failed to parse policy: path "x": invalid capability "fly"'),
        (Op.UPDATE, "sys/policy/root", {"policy": 'path "x" { capabilities = ["read"] }'},
         'cannot update "root" policy'),
        (Op.DELETE, "sys/policy/root", {}, 'cannot delete "root" policy'),
        (Op.DELETE, "sys/policies/acl/default", {}, "cannot delete default policy"),
    ],
)
async def test_refusals_are_400s_with_vaults_messages(
    engine: Engine, op: Op, path: str, data: dict[str, Any], message: str
) -> None:
    error = await engine.error(op, path, data)
    assert (error.status, error.message) == (400, message)


async def test_root_policy_reads_as_empty_and_default_as_vaults_text(engine: Engine) -> None:
    assert (await engine.call(Op.READ, "sys/policy/root")).data == {"name": "root", "rules": ""}
    default = (await engine.call(Op.READ, "sys/policies/acl/default")).data
    assert default is not None and 'path "auth/token/lookup-self"' in default["policy"]


# --- what a token with policies may do -----------------------------------------------------------


async def test_a_narrow_token_gets_exactly_its_policy(engine: Engine) -> None:
    token = await engine.token("app")
    assert (await engine.call(Op.READ, "secret/app/config", token=token)).data == {"db": "app-db"}
    await engine.call(Op.UPDATE, "secret/app/new", {"a": "b"}, token=token)
    assert "new" in (await engine.call(Op.LIST, "secret/app", token=token)).data["keys"]  # type: ignore[index]
    for op, path in [
        (Op.READ, "secret/other/config"),
        (Op.UPDATE, "secret/other/x"),
        (Op.LIST, "secret/"),
        (Op.READ, "sys/policy"),
        (Op.UPDATE, "sys/policy/mine"),
        (Op.UPDATE, "sys/mounts/mine"),
        (Op.READ, "nowhere/at/all"),  # an unknown route is 403, not 404, for those who may not know
    ]:
        error = await engine.error(op, path, {"type": "kv", "policy": "x"} if op is Op.UPDATE else None, token)
        assert (error.status, error.message) == (403, "permission denied"), (op, path)
    assert (await engine.error(Op.READ, "nowhere/at/all")).status == 404  # root may know


async def test_create_and_update_are_separate_capabilities(engine: Engine) -> None:
    await engine.policy("updater", 'path "secret/app/*" { capabilities = ["update"] }')
    token = await engine.token("updater")
    await engine.call(Op.UPDATE, "secret/app/config", {"db": "changed"}, token=token)  # exists: an update
    assert (await engine.error(Op.UPDATE, "secret/app/brand-new", {"a": 1}, token)).status == 403  # a create


async def test_default_policy_applies_and_can_be_edited(engine: Engine) -> None:
    token = await engine.token("app")
    assert (await engine.call(Op.READ, "auth/token/lookup-self", token=token)).data is not None
    bare = await engine.token("app", no_default_policy=True)
    assert (await engine.error(Op.READ, "auth/token/lookup-self", token=bare)).status == 403
    assert (await engine.error(Op.READ, "secret/other/config", token=token)).status == 403
    default = (await engine.call(Op.READ, "sys/policy/default")).data["rules"]  # type: ignore[index]
    await engine.policy("default", default + '\npath "secret/other/*" { capabilities = ["read"] }')
    assert (await engine.call(Op.READ, "secret/other/config", token=token)).data == {"db": "other-db"}


async def test_a_policy_change_applies_to_existing_tokens_at_once(engine: Engine) -> None:
    token = await engine.token("app")
    await engine.call(Op.READ, "secret/app/config", token=token)
    await engine.policy("app", 'path "secret/app/*" { capabilities = ["list"] }')
    assert (await engine.error(Op.READ, "secret/app/config", token=token)).status == 403
    await engine.call(Op.DELETE, "sys/policy/app")
    assert (await engine.error(Op.LIST, "secret/app", token=token)).status == 403


async def test_policy_admin_needs_no_sudo_but_root_paths_do(engine: Engine) -> None:
    await engine.policy("admin", 'path "sys/policy/*" { capabilities = ["create", "read", "update", "delete"] }\n'
                                 'path "sys/rotate" { capabilities = ["update"] }')
    admin = await engine.token("admin")
    await engine.call(Op.UPDATE, "sys/policy/made-by-admin", {"policy": 'path "x" { capabilities = ["read"] }'},
                      token=admin)
    assert (await engine.call(Op.READ, "sys/policy/made-by-admin")).data is not None
    # sys/rotate is root-protected: "update" is not enough without "sudo".
    assert (await engine.error(Op.UPDATE, "sys/rotate", token=admin)).status == 403
    await engine.policy("rotator", 'path "sys/rotate" { capabilities = ["update", "sudo"] }')
    rotator = await engine.token("rotator")
    await engine.call(Op.UPDATE, "sys/rotate", token=rotator)
    # sudo alone grants no operation.
    await engine.policy("sudo-only", 'path "sys/rotate" { capabilities = ["sudo"] }')
    assert (await engine.error(Op.UPDATE, "sys/rotate", token=await engine.token("sudo-only"))).status == 403


async def test_parameter_constraints_are_403s(engine: Engine) -> None:
    await engine.policy("db-only", 'path "secret/app/*" {\n capabilities = ["create", "update"]\n'
                                   ' allowed_parameters = { "db" = ["app-*"] }\n}')
    token = await engine.token("db-only")
    await engine.call(Op.UPDATE, "secret/app/config", {"db": "app-2"}, token=token)
    assert (await engine.error(Op.UPDATE, "secret/app/config", {"db": "other"}, token)).status == 403
    assert (await engine.error(Op.UPDATE, "secret/app/config", {"db": "app-3", "x": 1}, token)).status == 403


async def test_deny_on_the_same_pattern_beats_an_allow_in_another_policy(engine: Engine) -> None:
    await engine.policy("no-app", 'path "secret/app/*" { capabilities = ["deny"] }')
    token = await engine.token("app", "no-app")
    assert (await engine.error(Op.READ, "secret/app/config", token=token)).status == 403


# --- path tricks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "secret/app/../other/config",
        "secret/app/./../other/config",
        "secret//other/config",
        "secret/./other/config",
        "/secret/other/config",
        "secret/other/config/",
        "secret/app/%2e%2e/other/config",
        "secret/app%2f..%2f..%2fsecret/other/config",
        "SECRET/other/config",
        "secret/\u0430pp/config",  # with a Cyrillic "a" (U+0430)
        "secret/app/\u2025/other/config",  # "‥", which NFKC would turn into ".."
        "secret/app/\uff0e\uff0e/other/config",  # fullwidth dots
        "../secret/other/config",
        "secret/app/\x00/../../other/config",
    ],
)
async def test_path_tricks_do_not_widen_a_narrow_policy(engine: Engine, path: str) -> None:
    token = await engine.token("app")
    try:
        response = await engine.call(Op.READ, path, token=token)
    except EngineError as exc:
        assert exc.status in (400, 403, 404), (path, exc)
    else:
        assert response.data != {"db": "other-db"}, path


async def test_dot_segments_are_resolved_before_the_acl_check(engine: Engine) -> None:
    token = await engine.token("app")
    # Cleaned to secret/app/config, which the policy allows: the ACL judged the path that was served.
    assert (await engine.call(Op.READ, "secret/other/../app/./config", token=token)).data == {"db": "app-db"}
    assert (await engine.call(Op.READ, "secret//app//config", token=token)).data == {"db": "app-db"}


async def test_climbing_above_the_root_is_a_400(engine: Engine) -> None:
    error = await engine.error(Op.READ, "secret/../../sys/policy")
    assert (error.status, error.message) == (400, "relative paths not supported")


# --- sys/capabilities* ---------------------------------------------------------------------------


async def test_capabilities_self(engine: Engine) -> None:
    token = await engine.token("app")
    answer = (await engine.call(Op.UPDATE, "sys/capabilities-self", {"paths": ["secret/app/x", "secret/other"]},
                                token=token)).data
    assert answer == {"secret/app/x": ["create", "delete", "list", "read", "update"], "secret/other": ["deny"]}
    single = (await engine.call(Op.UPDATE, "sys/capabilities-self", {"path": "secret/app"}, token=token)).data
    assert single == {"secret/app": ["list"], "capabilities": ["list"]}
    root = (await engine.call(Op.UPDATE, "sys/capabilities-self", {"paths": ["anything"]})).data
    assert root == {"anything": ["root"], "capabilities": ["root"]}


async def test_capabilities_self_needs_the_default_policy(engine: Engine) -> None:
    bare = await engine.token("app", no_default_policy=True)
    assert (await engine.error(Op.UPDATE, "sys/capabilities-self", {"paths": ["x"]}, bare)).status == 403


async def test_capabilities_judge_the_path_a_request_would_use(engine: Engine) -> None:
    token = await engine.token("app")
    answer = (await engine.call(Op.UPDATE, "sys/capabilities-self", {"paths": ["secret/app/../other/x"]},
                                token=token)).data
    assert answer == {"secret/app/../other/x": ["deny"], "capabilities": ["deny"]}


async def test_capabilities_of_another_token_and_by_accessor(engine: Engine) -> None:
    created = await engine.call(Op.UPDATE, "auth/token/create", {"policies": ["app"]})
    assert created.auth is not None
    token, accessor = created.auth["client_token"], created.auth["accessor"]
    by_token = (await engine.call(Op.UPDATE, "sys/capabilities", {"token": token, "paths": "secret/app,secret/x"})).data
    assert by_token == {"secret/app": ["list"], "secret/x": ["deny"]}
    by_accessor = (await engine.call(Op.UPDATE, "sys/capabilities-accessor",
                                     {"accessor": accessor, "paths": ["secret/app/a"]})).data
    assert by_accessor == {"secret/app/a": ["create", "delete", "list", "read", "update"],
                           "capabilities": ["create", "delete", "list", "read", "update"]}


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("sys/capabilities", {"token": "hvs.nope", "paths": ["x"]}, "invalid token"),
        ("sys/capabilities", {"paths": ["x"]}, "missing token"),
        ("sys/capabilities-accessor", {"accessor": "nope", "paths": ["x"]}, "invalid accessor"),
        ("sys/capabilities-accessor", {"paths": ["x"]}, "missing accessor"),
        ("sys/capabilities-self", {}, "paths must be supplied"),
    ],
)
async def test_capabilities_refusals(engine: Engine, path: str, data: dict[str, Any], message: str) -> None:
    error = await engine.error(Op.UPDATE, path, data)
    assert (error.status, error.message) == (400, message)


async def test_capabilities_of_others_need_their_own_grant(engine: Engine) -> None:
    token = await engine.token("app")
    other = await engine.token("app")
    assert (await engine.error(Op.UPDATE, "sys/capabilities", {"token": other, "paths": ["x"]}, token)).status == 403
