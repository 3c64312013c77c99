"""engine.core.Core: sealed states, the token gate, routing, Vault's empty-answer rules, the ACL
plug point, and the barrier key endpoints against the real barrier."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from engine.backends import registry
from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import EngineError, NotFound, PermissionDenied, Sealed
from engine.framework import Backend, FieldData, Path
from engine.mounts import MountEntry
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage


@dataclass
class Engine:
    barrier: Barrier
    core: Core
    token: str

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None) -> Response:
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=self.token))

    async def error(self, op: Op, path: str, data: dict[str, Any] | None = None) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data)
        return caught.value


async def unsealed_barrier() -> Barrier:
    barrier = Barrier(MemoryStorage())
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    return barrier


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    barrier = await unsealed_barrier()
    core = Core(barrier)
    await core.setup()
    yield Engine(barrier, core, await core.create_root_token())
    barrier.seal()


# --- sealed ------------------------------------------------------------------------------------


async def test_before_setup_everything_is_sealed() -> None:
    core = Core(await unsealed_barrier())
    with pytest.raises(Sealed) as caught:
        await core.handle(Request(Op.READ, "secret/x", client_token="hvs.x"))
    assert caught.value.status == 503
    with pytest.raises(Sealed):
        await core.create_root_token()


async def test_teardown_drops_everything(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/x", {"v": 1})
    await engine.core.teardown()
    with pytest.raises(Sealed):
        await engine.call(Op.READ, "secret/x")
    await engine.core.setup()
    assert (await engine.call(Op.READ, "secret/x")).data == {"v": 1}


async def test_a_sealed_barrier_wins_even_if_teardown_was_missed(engine: Engine) -> None:
    engine.barrier.seal()
    with pytest.raises(Sealed):
        await engine.call(Op.READ, "secret/x")


async def test_setup_twice_keeps_the_loaded_state(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/extra", {"type": "kv"})
    await engine.core.setup()
    assert "extra/" in ((await engine.call(Op.READ, "sys/mounts")).data or {})


# --- the token gate ----------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "hvs.unknown", "not-even-a-token"])
async def test_missing_or_unknown_token_is_403_never_401(engine: Engine, token: str | None) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await engine.core.handle(Request(Op.READ, "secret/x", client_token=token))
    assert caught.value.status == 403 and caught.value.message == "permission denied"


async def test_the_token_is_checked_before_the_route(engine: Engine) -> None:
    with pytest.raises(PermissionDenied):
        await engine.core.handle(Request(Op.READ, "no/such/mount", client_token="hvs.bad"))


async def test_unknown_mount_is_404_with_vaults_message(engine: Engine) -> None:
    error = await engine.error(Op.READ, "foo/bar")
    assert isinstance(error, NotFound)
    assert error.message == 'no handler for route "foo/bar". route entry not found.'


async def test_is_root_token_and_a_chosen_root_token(engine: Engine) -> None:
    chosen = await engine.core.create_root_token("dev-root")
    assert chosen == "dev-root"
    assert await engine.core.is_root_token("dev-root") and await engine.core.is_root_token(engine.token)
    assert not await engine.core.is_root_token("hvs.unknown")
    child = (await engine.call(Op.UPDATE, "auth/token/create", {"policies": ["dev"]})).auth
    assert child is not None and not await engine.core.is_root_token(child["client_token"])


class Recording(Core):
    """A Core whose authorisation step records what it was asked: the ACL's view of a request."""

    def __init__(self, barrier: Barrier) -> None:
        super().__init__(barrier)
        self.asked: list[tuple[Op, str, str]] = []

    async def _authorize(self, policies: Any, entry: Any, req: Request, *args: Any) -> None:
        self.asked.append((req.op, req.path, entry.policies[0]))
        await super()._authorize(policies, entry, req, *args)


async def test_authorisation_sees_the_final_operation_and_full_path() -> None:
    core = Recording(await unsealed_barrier())
    await core.setup()
    token = await core.create_root_token()
    for value in (1, 2):
        await core.handle(Request(Op.UPDATE, "secret/a", {"v": value}, client_token=token))
    await core.handle(Request(Op.READ, "secret/a", client_token=token))
    assert core.asked == [
        (Op.CREATE, "secret/a", "root"),
        (Op.UPDATE, "secret/a", "root"),
        (Op.READ, "secret/a", "root"),
    ]


# --- routing and empty answers -----------------------------------------------------------------


@dataclass
class Probe(Backend):
    """A test engine that records what reaches it and answers what it is told to."""

    answers: dict[str, Response | None] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        operations = {op: self.record for op in (Op.READ, Op.LIST, Op.UPDATE)}
        self.paths = [Path(r"(?P<rest>.*)", operations=operations)]

    async def record(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        self.seen.append(req)
        return self.answers.get(req.path)


@pytest.fixture
async def probe(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Probe:
    instance = Probe()

    def factory(entry: MountEntry) -> Backend:
        return instance

    monkeypatch.setitem(registry.SECRET_ENGINES, "probe", factory)
    await engine.call(Op.UPDATE, "sys/mounts/probe", {"type": "probe"})
    return instance


async def test_backends_get_the_path_below_the_mount_and_no_token(engine: Engine, probe: Probe) -> None:
    request = Request(Op.READ, "probe/a/b", client_token=engine.token)
    probe.answers["a/b"] = Response(data={"ok": True})
    await engine.core.handle(request)
    seen = probe.seen[-1]
    assert seen.path == "a/b" and seen.client_token is None and seen.id == request.id
    assert (seen.mount_point, seen.mount_type) == ("probe/", "probe")
    assert (request.mount_point, request.mount_type) == ("probe/", "probe")
    assert request.path == "probe/a/b" and request.client_token == engine.token


async def test_empty_answers_follow_vaults_rules(engine: Engine, probe: Probe) -> None:
    for op in (Op.READ, Op.LIST):
        error = await engine.error(op, "probe/none")
        assert isinstance(error, NotFound) and error.message == ""
    written = await engine.call(Op.UPDATE, "probe/none", {"x": 1})
    assert written.data is None and written.auth is None and written.warnings == []

    probe.answers["empty-keys"] = Response(data={"keys": []})
    assert isinstance(await engine.error(Op.LIST, "probe/empty-keys"), NotFound)
    probe.answers["no-data"] = Response(data={})
    assert isinstance(await engine.error(Op.LIST, "probe/no-data"), NotFound)
    probe.answers["warned"] = Response(data={}, warnings=["something"])
    assert (await engine.call(Op.LIST, "probe/warned")).warnings == ["something"]
    probe.answers["other-data"] = Response(data={"info": 1})
    assert (await engine.call(Op.LIST, "probe/other-data")).data == {"info": 1}


# --- barrier keys ------------------------------------------------------------------------------


async def test_key_status_and_rotate_with_the_real_barrier(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/before", {"v": "old"})
    status = (await engine.call(Op.READ, "sys/key-status")).data
    assert status is not None and status["term"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", status["install_time"])
    assert datetime.fromisoformat(status["install_time"]) == engine.barrier.key_status().install_time

    rotated = await engine.call(Op.UPDATE, "sys/rotate")
    assert rotated.data is None and rotated.auth is None  # 204 at the edge
    after = (await engine.call(Op.READ, "sys/key-status")).data
    assert after is not None and after["term"] == 2 and engine.barrier.key_status().term == 2

    await engine.call(Op.UPDATE, "secret/after", {"v": "new"})
    assert (await engine.call(Op.READ, "secret/before")).data == {"v": "old"}
    assert (await engine.call(Op.READ, "secret/after")).data == {"v": "new"}


async def test_unsupported_operation_on_sys_paths(engine: Engine) -> None:
    assert (await engine.error(Op.READ, "sys/rotate")).status == 405
    assert (await engine.error(Op.UPDATE, "sys/key-status")).status == 405
    assert (await engine.error(Op.READ, "sys/no-such-endpoint")).status == 404
