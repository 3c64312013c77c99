"""The router and the mount tables: longest-prefix routing, sys/mounts enable/list/read/disable with
Vault's refusals, data removal on disable, persistence across restarts."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.barrier import Barrier
from engine.core import Core
from engine.crypto import new_key
from engine.errors import BadRequest, EngineError, NotFound
from engine.framework import Backend
from engine.mounts import MountEntry
from engine.request import Op, Request, Response
from engine.router import Route, Router
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from tests.engine.core_harness import MOUNT_INFO_KEYS

# --- the router alone --------------------------------------------------------------------------


def route(path: str) -> Route:
    return Route(MountEntry(path, "kv"), Backend(), MemoryStorage())


def test_longest_prefix_and_the_path_below_the_mount() -> None:
    router = Router()
    for path in ("secret/", "auth/token/", "team-a/"):
        router.add(route(path))
    found = router.match("auth/token/lookup-self")
    assert found is not None and found[0].entry.path == "auth/token/" and found[1] == "lookup-self"
    found = router.match("secret/a/b")
    assert found is not None and (found[0].entry.path, found[1]) == ("secret/", "a/b")
    assert router.match("team-b/x") is None
    assert router.match("secre") is None


def test_a_mount_name_without_its_slash_finds_the_mount() -> None:
    router = Router()
    router.add(route("secret/"))
    found = router.match("secret")
    assert found is not None and (found[0].entry.path, found[1]) == ("secret/", "")


def test_mounts_cannot_nest_either_way() -> None:
    router = Router()
    router.add(route("a/b/"))
    for path in ("a/b/c/", "a/", "a/b/"):
        with pytest.raises(BadRequest, match=re.escape("path is already in use at a/b/")):
            router.add(route(path))
    router.add(route("a/bc/"))  # a sibling sharing a string prefix is not nested
    router.remove("a/b/")
    router.add(route("a/b/c/"))
    assert router.get("a/b/c/") is not None and router.get("a/b/") is None


# --- sys/mounts through the core ---------------------------------------------------------------


@dataclass
class Engine:
    physical: MemoryStorage
    barrier: Barrier
    core: Core
    token: str

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None) -> Response:
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=self.token))

    async def error(self, op: Op, path: str, data: dict[str, Any] | None = None) -> EngineError:
        with pytest.raises(EngineError) as caught:
            await self.call(op, path, data)
        return caught.value

    async def mounts(self) -> dict[str, Any]:
        data = (await self.call(Op.READ, "sys/mounts")).data
        assert data is not None
        return data

    async def restart(self) -> Engine:
        """A new Core over the same (still unsealed) barrier: what an unseal after a restart loads."""
        await self.core.teardown()
        core = Core(self.barrier)
        await core.setup()
        return Engine(self.physical, self.barrier, core, self.token)


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    physical = MemoryStorage()
    barrier = Barrier(physical)
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    core = Core(barrier)
    await core.setup()
    yield Engine(physical, barrier, core, await core.create_root_token())
    barrier.seal()


async def test_first_start_creates_the_default_mounts(engine: Engine) -> None:
    mounts = await engine.mounts()
    assert set(mounts) == {"cubbyhole/", "secret/", "sys/"}  # auth methods are not secret engines
    secret = mounts["secret/"]
    assert set(secret) == MOUNT_INFO_KEYS
    assert secret["type"] == "kv" and secret["options"] == {"version": "1"}
    assert secret["config"] == {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False}
    assert re.fullmatch(r"kv_[0-9a-f]{8}", secret["accessor"])
    assert mounts["sys/"]["type"] == "system" and mounts["sys/"]["options"] is None
    # The token backend is mounted too, in the auth table.
    assert (await engine.call(Op.READ, "auth/token/lookup-self")).data is not None


async def test_sys_answers_carry_their_data_at_the_top_level_too(engine: Engine) -> None:
    request = Request(Op.READ, "sys/mounts", client_token=engine.token)
    body = (await engine.core.handle(request)).envelope(request.id)
    assert body["secret/"] == body["data"]["secret/"]
    assert body["request_id"] == request.id and body["auth"] is None
    # Other mounts keep the plain envelope.
    await engine.call(Op.UPDATE, "secret/x", {"k": "v"})
    kv = Request(Op.READ, "secret/x", client_token=engine.token)
    assert "k" not in (await engine.core.handle(kv)).envelope(kv.id)


async def test_enable_lists_reads_and_tunes_a_mount(engine: Engine) -> None:
    enabled = await engine.call(
        Op.UPDATE,
        "sys/mounts/team/app",
        {"type": "kv", "description": "team secrets", "config": {"default_lease_ttl": "1h"}, "local": True},
    )
    assert enabled.data is None
    info = (await engine.mounts())["team/app/"]
    assert info["description"] == "team secrets" and info["local"] is True
    assert info["config"]["default_lease_ttl"] == 3600 and info["options"] is None
    assert (await engine.call(Op.READ, "sys/mounts/team/app")).data == info
    tune = (await engine.call(Op.READ, "sys/mounts/team/app/tune")).data
    assert tune == {
        "description": "team secrets",
        "default_lease_ttl": 3600,
        "max_lease_ttl": 2764800,
        "force_no_cache": False,
    }
    # The mount serves requests, and its default TTL reaches the engine.
    await engine.call(Op.UPDATE, "team/app/db", {"pw": "x"})
    assert (await engine.call(Op.READ, "team/app/db")).lease_duration == 3600


async def test_hvac_style_nulls_and_aliases(engine: Engine) -> None:
    body = {"type": "kv-v1", "description": None, "config": None, "options": None, "plugin_name": None}
    await engine.call(Op.UPDATE, "sys/mounts/hv", body | {"local": False, "seal_wrap": False})
    info = (await engine.mounts())["hv/"]
    assert info["type"] == "kv" and info["options"] == {"version": "1"} and info["description"] == ""


@pytest.mark.parametrize(
    ("path", "existing"),
    [("secret/inner", "secret/"), ("outer", "outer/deep/")],
)
async def test_nested_mounts_are_refused(engine: Engine, path: str, existing: str) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/outer/deep", {"type": "kv"})
    error = await engine.error(Op.UPDATE, f"sys/mounts/{path}", {"type": "kv"})
    assert isinstance(error, BadRequest) and error.message == f"path is already in use at {existing}"


@pytest.mark.parametrize(
    ("path", "mount_type", "message"),
    [
        ("sys/extra", "kv", 'cannot mount "sys/extra/"'),
        ("auth/mine", "kv", 'cannot mount "auth/mine/"'),
        ("cubbyhole", "kv", 'cannot mount "cubbyhole/"'),
        ("identity/x", "kv", 'cannot mount "identity/x/"'),
        ("tokens2", "token", 'mount type of "token" is not mountable'),
        ("sys2", "system", 'mount type of "system" is not mountable'),
        ("nope", "no-such-engine", "plugin not found in the catalog: no-such-engine"),
        ("untyped", "", "backend type must be specified as a string"),
    ],
)
async def test_refused_mounts(engine: Engine, path: str, mount_type: str, message: str) -> None:
    error = await engine.error(Op.UPDATE, f"sys/mounts/{path}", {"type": mount_type})
    assert isinstance(error, BadRequest) and error.message == message
    # Nothing was mounted (the cubbyhole there is the built-in one).
    assert (await engine.mounts()).get(f"{path}/", {}).get("type") in (None, "cubbyhole")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default_lease_ttl": "abc"}, "unable to parse default TTL of abc"),
        ({"max_lease_ttl": "1x"}, "unable to parse max TTL of 1x"),
        ({"default_lease_ttl": "2h", "max_lease_ttl": "1h"}, "default lease TTL greater than given max"),
        ({"default_lease_ttl": "9999h"}, "greater than system max lease TTL of 2764800"),
    ],
)
async def test_mount_config_is_validated(engine: Engine, config: dict[str, str], message: str) -> None:
    error = await engine.error(Op.UPDATE, "sys/mounts/cfg", {"type": "kv", "config": config})
    assert isinstance(error, BadRequest) and message in error.message


async def test_disable_removes_the_mount_and_its_data(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/gone", {"type": "kv"})
    uuid = (await engine.mounts())["gone/"]["uuid"]
    for key in ("a", "dir/b", "dir/deeper/c"):
        await engine.call(Op.UPDATE, f"gone/{key}", {"v": key})
    await engine.call(Op.UPDATE, "secret/kept", {"v": 1})
    assert len(await all_keys(engine.physical, f"logical/{uuid}/")) == 3

    assert (await engine.call(Op.DELETE, "sys/mounts/gone")).data is None
    assert "gone/" not in await engine.mounts()
    assert await all_keys(engine.physical, f"logical/{uuid}/") == []
    error = await engine.error(Op.READ, "gone/a")
    assert isinstance(error, NotFound)
    assert error.message == 'no handler for route "gone/a". route entry not found.'
    assert (await engine.call(Op.READ, "secret/kept")).data == {"v": 1}

    # Mounting the path again starts empty.
    await engine.call(Op.UPDATE, "sys/mounts/gone", {"type": "kv"})
    assert isinstance(await engine.error(Op.READ, "gone/a"), NotFound)


async def test_disabling_what_is_not_mounted_succeeds_quietly(engine: Engine) -> None:
    assert (await engine.call(Op.DELETE, "sys/mounts/never-mounted")).data is None


@pytest.mark.parametrize(("path", "shown"), [("sys", "sys/"), ("auth/token", "auth/token/")])
async def test_builtin_mounts_cannot_be_disabled(engine: Engine, path: str, shown: str) -> None:
    error = await engine.error(Op.DELETE, f"sys/mounts/{path}")
    assert isinstance(error, BadRequest) and error.message == f'cannot unmount "{shown}"'


async def test_read_of_an_unmounted_path(engine: Engine) -> None:
    error = await engine.error(Op.READ, "sys/mounts/absent")
    assert isinstance(error, BadRequest) and error.message == "No secret engine mount at absent/"


async def test_the_mount_table_persists_behind_the_barrier(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts/persisted", {"type": "kv", "description": "kept"})
    await engine.call(Op.UPDATE, "persisted/k", {"v": "still here"})
    await engine.call(Op.UPDATE, "sys/mounts/dropped", {"type": "kv"})
    await engine.call(Op.DELETE, "sys/mounts/dropped")
    before = await engine.mounts()

    stored = await engine.physical.get("core/mounts")
    assert stored is not None and b"persisted/" not in stored  # encrypted by the barrier
    table = await engine.barrier.get("core/mounts")
    assert table is not None and json.loads(table)["type"] == "mounts"

    again = await engine.restart()
    assert await again.mounts() == before
    assert (await again.call(Op.READ, "persisted/k")).data == {"v": "still here"}
    assert isinstance(await again.error(Op.READ, "dropped/k"), NotFound)


async def test_mount_paths_are_normalised(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "sys/mounts//slashed", {"type": "kv"})
    assert "slashed/" in await engine.mounts()
    await engine.call(Op.UPDATE, "slashed/k", {"v": 1})
    assert (await engine.call(Op.LIST, "slashed")).data == {"keys": ["k"]}
