"""auth/token/ through the pipeline: Vault's lookup and create shapes, revocation, 403s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import BadRequest, EngineError, PermissionDenied
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage

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


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Engine:
    core: Core
    root: str
    clock: Clock

    async def call(
        self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None
    ) -> Response:
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=token or self.root))

    async def error(
        self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = None
    ) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data, token)
        return caught.value

    async def create(self, **data: Any) -> dict[str, Any]:
        response = await self.call(Op.UPDATE, "auth/token/create", data)
        assert response.data is None and response.auth is not None
        return response.auth


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    barrier = Barrier(MemoryStorage())
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    clock = Clock()
    core = Core(barrier, clock=clock)
    await core.setup()
    yield Engine(core, await core.create_root_token(), clock)
    await core.teardown()
    barrier.seal()


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


async def test_lookup_another_token_by_value(engine: Engine) -> None:
    child = (await engine.create())["client_token"]
    data = (await engine.call(Op.UPDATE, "auth/token/lookup", {"token": child})).data
    assert data is not None and data["id"] == child and data["orphan"] is False
    assert data["path"] == "auth/token/create"


async def test_lookup_of_an_unknown_token_is_403_bad_token(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "auth/token/lookup", {"token": "hvs.nope"})
    assert isinstance(error, PermissionDenied) and error.message == "bad token"


async def test_root_creates_a_root_token_by_inheritance(engine: Engine) -> None:
    auth = await engine.create()
    assert set(auth) == AUTH_KEYS
    assert auth["policies"] == ["root"] == auth["token_policies"]
    assert auth["lease_duration"] == 0 and auth["renewable"] is False and auth["orphan"] is False
    assert auth["token_type"] == "service" and auth["metadata"] is None
    assert auth["client_token"].startswith("hvs.") and auth["client_token"] != engine.root
    # The new token works on its own.
    data = (await engine.call(Op.READ, "auth/token/lookup-self", token=auth["client_token"])).data
    assert data is not None and data["accessor"] == auth["accessor"]
    assert data["display_name"] == "token" and data["renewable"] is False and "issue_time" in data


async def test_created_token_with_ttl_and_metadata(engine: Engine) -> None:
    auth = await engine.create(policies="Dev, ops", ttl="1h", meta={"team": "a"}, display_name="ci job")
    assert auth["policies"] == ["default", "dev", "ops"]
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True and auth["metadata"] == {"team": "a"}
    lookup = (await engine.call(Op.UPDATE, "auth/token/lookup", {"token": auth["client_token"]})).data
    assert lookup is not None
    assert lookup["display_name"] == "token-ci-job"
    assert lookup["expire_time"] == "2030-01-01T13:00:00Z" and lookup["issue_time"] == "2030-01-01T12:00:00Z"
    engine.clock.now += timedelta(minutes=10)
    lookup = (await engine.call(Op.UPDATE, "auth/token/lookup", {"token": auth["client_token"]})).data
    assert lookup is not None and lookup["ttl"] == 3000 and lookup["creation_ttl"] == 3600
    engine.clock.now += timedelta(minutes=50)
    error = await engine.error(Op.UPDATE, "auth/token/lookup", {"token": auth["client_token"]})
    assert isinstance(error, PermissionDenied)


async def test_non_root_tokens_get_the_default_ttl(engine: Engine) -> None:
    assert (await engine.create(policies=["dev"]))["lease_duration"] == 2764800
    assert (await engine.create(policies=["dev"], ttl="9999h"))["lease_duration"] == 2764800


async def test_a_chosen_id_is_root_only_unique_and_without_periods(engine: Engine) -> None:
    auth = await engine.create(id="my-token")
    assert auth["client_token"] == "my-token"
    assert (await engine.call(Op.READ, "auth/token/lookup-self", token="my-token")).data is not None
    for chosen, message in (("my-token", "duplicate ID"), ("a.b", "can not contain periods")):
        error = await engine.error(Op.UPDATE, "auth/token/create", {"id": chosen})
        assert isinstance(error, BadRequest) and message in error.message


async def test_unsupported_token_features_are_refused_not_ignored(engine: Engine) -> None:
    for data in ({"num_uses": 3}, {"period": "1h"}, {"type": "batch"}, {"role_name": "r"}):
        assert isinstance(await engine.error(Op.UPDATE, "auth/token/create", data), BadRequest)


async def test_orphans(engine: Engine) -> None:
    assert (await engine.create(no_parent=True))["orphan"] is True
    response = await engine.call(Op.UPDATE, "auth/token/create-orphan", {"policies": ["root"]})
    assert response.auth is not None and response.auth["orphan"] is True


async def test_revoke_self(engine: Engine) -> None:
    token = (await engine.create())["client_token"]
    assert (await engine.call(Op.UPDATE, "auth/token/revoke-self", token=token)).data is None
    assert isinstance(await engine.error(Op.READ, "auth/token/lookup-self", token=token), PermissionDenied)
    assert (await engine.call(Op.READ, "auth/token/lookup-self")).data is not None  # root unaffected


async def test_revoke_by_value(engine: Engine) -> None:
    token = (await engine.create())["client_token"]
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": token})
    assert isinstance(await engine.error(Op.READ, "secret/x", token=token), PermissionDenied)
    error = await engine.error(Op.UPDATE, "auth/token/revoke", {})
    assert isinstance(error, BadRequest) and error.message == "missing token ID"


async def test_non_root_tokens_are_denied_until_policies_exist(engine: Engine) -> None:
    token = (await engine.create(policies=["dev"]))["client_token"]
    error = await engine.error(Op.READ, "auth/token/lookup-self", token=token)
    assert isinstance(error, PermissionDenied) and error.status == 403
