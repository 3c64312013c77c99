"""KV version 1 through the whole pipeline (Core over the real barrier over memory), as Vault's kv v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import BadRequest, EngineError, NotFound, UnsupportedOperation
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage


@dataclass
class Engine:
    core: Core
    token: str

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None) -> Response:
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=self.token))

    async def error(self, op: Op, path: str, data: dict[str, Any] | None = None) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data)
        return caught.value


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    barrier = Barrier(MemoryStorage())
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    core = Core(barrier)
    await core.setup()
    yield Engine(core, await core.create_root_token())
    await core.teardown()
    barrier.seal()


async def test_write_then_read_returns_the_object_as_written(engine: Engine) -> None:
    secret = {"user": "app", "port": 5432, "nested": {"a": [1, 2]}, "on": True}
    written = await engine.call(Op.UPDATE, "secret/app/db", secret)
    assert written.data is None and written.auth is None  # 204 at the edge
    read = await engine.call(Op.READ, "secret/app/db")
    assert read.data == secret
    assert (read.lease_id, read.renewable) == ("", False)


async def test_default_lease_duration_is_768h(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/a", {"k": "v"})
    assert (await engine.call(Op.READ, "secret/a")).lease_duration == 2764800


@pytest.mark.parametrize(
    ("body", "lease"),
    [
        ({"k": "v", "ttl": "1h"}, 3600),
        ({"k": "v", "ttl": 90}, 90),
        ({"k": "v", "lease": "2m"}, 120),
        ({"k": "v", "ttl": "not-a-duration"}, 2764800),
    ],
)
async def test_ttl_key_is_kept_and_returned_as_lease_duration(
    engine: Engine, body: dict[str, Any], lease: int
) -> None:
    await engine.call(Op.UPDATE, "secret/t", body)
    read = await engine.call(Op.READ, "secret/t")
    assert read.data == body
    assert read.lease_duration == lease and read.renewable is False


async def test_write_replaces_the_whole_value(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/r", {"a": 1, "b": 2})
    await engine.call(Op.UPDATE, "secret/r", {"c": 3})
    assert (await engine.call(Op.READ, "secret/r")).data == {"c": 3}


async def test_missing_secret_is_404_with_an_empty_error_list(engine: Engine) -> None:
    error = await engine.error(Op.READ, "secret/missing")
    assert isinstance(error, NotFound) and error.status == 404 and error.message == ""


async def test_empty_body_is_missing_data_fields(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "secret/empty", {})
    assert isinstance(error, BadRequest) and error.message == "missing data fields"


async def test_writing_the_mount_root_is_missing_path(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "secret/", {"k": "v"})
    assert isinstance(error, BadRequest) and error.message == "missing path"


async def test_delete_is_idempotent(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/d", {"k": "v"})
    assert (await engine.call(Op.DELETE, "secret/d")).data is None
    assert isinstance(await engine.error(Op.READ, "secret/d"), NotFound)
    assert (await engine.call(Op.DELETE, "secret/d")).data is None
    assert (await engine.call(Op.DELETE, "secret/never-was")).data is None


async def test_list_shows_keys_and_folders(engine: Engine) -> None:
    for path in ("secret/list/x", "secret/list/y", "secret/list/dir/z", "secret/elsewhere"):
        await engine.call(Op.UPDATE, path, {"v": 1})
    expected = ["dir/", "x", "y"]
    assert (await engine.call(Op.LIST, "secret/list")).data == {"keys": expected}
    assert (await engine.call(Op.LIST, "secret/list/")).data == {"keys": expected}
    assert (await engine.call(Op.LIST, "secret/list/dir")).data == {"keys": ["z"]}
    assert (await engine.call(Op.LIST, "secret/")).data == {"keys": ["elsewhere", "list/"]}
    assert (await engine.call(Op.LIST, "secret")).data == {"keys": ["elsewhere", "list/"]}


async def test_empty_listing_is_404_with_an_empty_error_list(engine: Engine) -> None:
    error = await engine.error(Op.LIST, "secret/nothing-here")
    assert isinstance(error, NotFound) and error.message == ""


async def test_a_write_is_create_when_missing_and_update_when_present(engine: Engine) -> None:
    first = Request(Op.UPDATE, "secret/c", {"v": 1}, client_token=engine.token)
    await engine.core.handle(first)
    second = Request(Op.UPDATE, "secret/c", {"v": 2}, client_token=engine.token)
    await engine.core.handle(second)
    assert (first.op, second.op) == (Op.CREATE, Op.UPDATE)


async def test_patch_is_not_a_kv_v1_operation(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/p", {"v": 1})
    assert isinstance(await engine.error(Op.PATCH, "secret/p", {"v": 2}), UnsupportedOperation)


async def test_a_body_key_named_path_is_data_not_the_url(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "secret/url", {"path": "elsewhere", "v": 1})
    assert (await engine.call(Op.READ, "secret/url")).data == {"path": "elsewhere", "v": 1}
    assert isinstance(await engine.error(Op.READ, "secret/elsewhere"), NotFound)


async def test_relative_segments_cannot_leave_the_mount(engine: Engine) -> None:
    error = await engine.error(Op.READ, "secret/../../core/token-salt")
    assert isinstance(error, BadRequest) and error.message == "relative paths not supported"


async def test_an_unknown_kv_version_is_refused(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "sys/mounts/kv3", {"type": "kv", "options": {"version": "3"}})
    assert isinstance(error, BadRequest) and error.message == "invalid version provided: 3"
    mounts = (await engine.call(Op.READ, "sys/mounts")).data
    assert mounts is not None and "kv3/" not in mounts


async def test_a_second_kv_v1_mount_is_independent(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/other", {"type": "kv-v1"})
    await engine.call(Op.UPDATE, "other/k", {"where": "other"})
    await engine.call(Op.UPDATE, "secret/k", {"where": "secret"})
    assert (await engine.call(Op.READ, "other/k")).data == {"where": "other"}
    assert (await engine.call(Op.READ, "secret/k")).data == {"where": "secret"}
