"""The cubbyhole through Core.handle over the real barrier: per-token storage that reads, writes, lists
and deletes like KV v1, that no other token (root included) can reach, that goes with its token
(revoked, used up or expired on a fake clock), that batch tokens cannot use, and a mount that is
always there and can be neither removed nor moved."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from engine.errors import BadRequest, NotFound, PermissionDenied
from engine.mounts import MOUNTS_TABLE_KEY
from engine.request import Op
from engine.storage.view import all_keys
from tests.engine.auth_harness import Engine, make_engine


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await make_engine()
    yield engine
    engine.barrier.seal()


async def token(engine: Engine, parent: str = "root", **body: object) -> str:
    """A new token, made by `parent` (root by default)."""
    auth = (await engine.call(Op.UPDATE, "auth/token/create", body, token=parent)).auth
    assert auth is not None
    return str(auth["client_token"])


async def stored_keys(engine: Engine) -> list[str]:
    """Every key stored under the cubbyhole mount, decrypted: "<token hash>/<path>"."""
    mounts = (await engine.call(Op.READ, "sys/mounts")).data
    assert mounts is not None
    return await all_keys(engine.barrier, f"logical/{mounts['cubbyhole/']['uuid']}/")


async def test_the_cubbyhole_is_mounted_on_first_start_as_in_vault(engine: Engine) -> None:
    mounts = (await engine.call(Op.READ, "sys/mounts")).data
    assert mounts is not None
    cubbyhole = mounts["cubbyhole/"]
    assert cubbyhole["type"] == "cubbyhole"
    assert cubbyhole["description"] == "per-token private secret storage"
    assert cubbyhole["local"] is True


async def test_read_write_list_delete_like_kv_v1(engine: Engine) -> None:
    mine = await token(engine, policies=["default"])
    await engine.call(Op.UPDATE, "cubbyhole/app/db", {"user": "app", "port": 5432}, token=mine)
    await engine.call(Op.UPDATE, "cubbyhole/app/cache/key", {"v": "1"}, token=mine)
    await engine.call(Op.UPDATE, "cubbyhole/top", {"v": "2"}, token=mine)
    read = await engine.call(Op.READ, "cubbyhole/app/db", token=mine)
    assert read.data == {"user": "app", "port": 5432}
    assert read.lease_duration == 0 and not read.lease_id  # no lease hint, unlike kv
    assert (await engine.call(Op.LIST, "cubbyhole/", token=mine)).data == {"keys": ["app/", "top"]}
    assert (await engine.call(Op.LIST, "cubbyhole/app", token=mine)).data == {"keys": ["cache/", "db"]}
    # A write replaces the whole entry.
    await engine.call(Op.UPDATE, "cubbyhole/app/db", {"user": "other"}, token=mine)
    assert (await engine.call(Op.READ, "cubbyhole/app/db", token=mine)).data == {"user": "other"}
    assert (await engine.call(Op.DELETE, "cubbyhole/app/db", token=mine)).data is None
    assert isinstance(await engine.error(Op.READ, "cubbyhole/app/db", token=mine), NotFound)
    assert isinstance(await engine.error(Op.LIST, "cubbyhole/nothing", token=mine), NotFound)


async def test_a_write_needs_data(engine: Engine) -> None:
    error = await engine.error(Op.UPDATE, "cubbyhole/empty", {})
    assert isinstance(error, BadRequest) and error.message == "missing data fields"


async def test_no_other_token_reaches_a_cubbyhole_not_even_root(engine: Engine) -> None:
    alice, bob = await token(engine, policies=["default"]), await token(engine, policies=["default"])
    await engine.call(Op.UPDATE, "cubbyhole/secret", {"owner": "alice"}, token=alice)
    for other in (bob, engine.root):
        assert isinstance(await engine.error(Op.READ, "cubbyhole/secret", token=other), NotFound)
        assert isinstance(await engine.error(Op.LIST, "cubbyhole/", token=other), NotFound)
    # Same path, separate places: bob's write and root's delete leave alice's entry alone.
    await engine.call(Op.UPDATE, "cubbyhole/secret", {"owner": "bob"}, token=bob)
    await engine.call(Op.DELETE, "cubbyhole/secret")
    assert (await engine.call(Op.READ, "cubbyhole/secret", token=alice)).data == {"owner": "alice"}
    assert (await engine.call(Op.READ, "cubbyhole/secret", token=bob)).data == {"owner": "bob"}
    # The path holds no token or name: entries are keyed by the token's salted hash.
    keys = await stored_keys(engine)
    assert len(keys) == 2 and all(key.endswith("/secret") and len(key.split("/")[0]) == 64 for key in keys)
    assert not any(alice in key or bob in key for key in keys)


async def test_root_has_a_cubbyhole_of_its_own(engine: Engine) -> None:
    await engine.call(Op.UPDATE, "cubbyhole/note", {"by": "root"})
    assert (await engine.call(Op.READ, "cubbyhole/note")).data == {"by": "root"}


async def test_access_follows_the_acl(engine: Engine) -> None:
    # The default policy grants the cubbyhole; a token without it cannot use its own.
    narrow = await token(engine, policies=["nothing"], no_default_policy=True)
    assert isinstance(await engine.error(Op.UPDATE, "cubbyhole/x", {"a": "b"}, token=narrow), PermissionDenied)


async def test_the_cubbyhole_goes_with_its_token_when_revoked(engine: Engine) -> None:
    alice, bob = await token(engine, policies=["default"]), await token(engine, policies=["default"])
    await engine.call(Op.UPDATE, "cubbyhole/a/b", {"v": "alice"}, token=alice)
    await engine.call(Op.UPDATE, "cubbyhole/c", {"v": "alice"}, token=alice)
    await engine.call(Op.UPDATE, "cubbyhole/c", {"v": "bob"}, token=bob)
    assert len(await stored_keys(engine)) == 3
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": alice})
    keys = await stored_keys(engine)
    assert len(keys) == 1 and keys[0].endswith("/c")
    assert (await engine.call(Op.READ, "cubbyhole/c", token=bob)).data == {"v": "bob"}


async def test_the_cubbyholes_of_a_revoked_tree_all_go(engine: Engine) -> None:
    await engine.put_policy("maker", 'path "auth/token/create" { capabilities = ["update"] }')
    parent = await token(engine, policies=["default", "maker"])
    child = await token(engine, parent, policies=["default"])
    await engine.call(Op.UPDATE, "cubbyhole/p", {"v": "1"}, token=parent)
    await engine.call(Op.UPDATE, "cubbyhole/c", {"v": "1"}, token=child)
    await engine.call(Op.UPDATE, "auth/token/revoke", {"token": parent})
    assert await stored_keys(engine) == []


async def test_the_cubbyhole_goes_with_its_token_when_it_expires(engine: Engine) -> None:
    short = await token(engine, policies=["default"], ttl="60s")
    await engine.call(Op.UPDATE, "cubbyhole/x", {"v": "1"}, token=short)
    engine.clock.advance(30)
    assert await engine.core.expiration.expire_due() == 0
    assert len(await stored_keys(engine)) == 1
    engine.clock.advance(31)
    assert await engine.core.expiration.expire_due() == 1
    assert await stored_keys(engine) == []


async def test_the_cubbyhole_goes_when_the_token_is_used_up(engine: Engine) -> None:
    limited = await token(engine, policies=["default"], num_uses=2)
    await engine.call(Op.UPDATE, "cubbyhole/x", {"v": "1"}, token=limited)
    assert (await engine.call(Op.READ, "cubbyhole/x", token=limited)).data == {"v": "1"}
    assert await stored_keys(engine) == []


async def test_batch_tokens_have_no_cubbyhole(engine: Engine) -> None:
    batch = await token(engine, policies=["default"], type="batch")
    for op, data in ((Op.READ, None), (Op.UPDATE, {"a": "b"}), (Op.LIST, None), (Op.DELETE, None)):
        error = await engine.error(op, "cubbyhole/x", data, token=batch)
        assert isinstance(error, BadRequest)
        assert error.message == 'cubbyhole operations are only supported by "service" type tokens'


async def test_the_mount_can_be_neither_removed_nor_moved_nor_mounted_again(engine: Engine) -> None:
    error = await engine.error(Op.DELETE, "sys/mounts/cubbyhole")
    assert isinstance(error, BadRequest) and error.message == 'cannot unmount "cubbyhole/"'
    error = await engine.error(Op.UPDATE, "sys/remount", {"from": "cubbyhole", "to": "elsewhere"})
    assert isinstance(error, BadRequest) and error.message == 'cannot remount "cubbyhole/"'
    error = await engine.error(Op.UPDATE, "sys/mounts/other", {"type": "cubbyhole"})
    assert isinstance(error, BadRequest) and error.message == 'mount type of "cubbyhole" is not mountable'
    await engine.call(Op.UPDATE, "cubbyhole/still", {"v": "here"})
    assert (await engine.call(Op.READ, "cubbyhole/still")).data == {"v": "here"}


async def test_an_older_mount_table_gets_the_cubbyhole_on_load(engine: Engine) -> None:
    raw = await engine.barrier.get(MOUNTS_TABLE_KEY)
    assert raw is not None
    table = json.loads(raw)
    table["entries"] = [entry for entry in table["entries"] if entry["type"] != "cubbyhole"]
    await engine.barrier.put(MOUNTS_TABLE_KEY, json.dumps(table).encode())
    engine = await engine.restart()
    mounts = (await engine.call(Op.READ, "sys/mounts")).data
    assert mounts is not None and mounts["cubbyhole/"]["type"] == "cubbyhole"
    await engine.call(Op.UPDATE, "cubbyhole/x", {"v": "1"})
    assert (await engine.call(Op.READ, "cubbyhole/x")).data == {"v": "1"}


async def test_cubbyhole_data_survives_a_restart(engine: Engine) -> None:
    mine = await token(engine, policies=["default"])
    await engine.call(Op.UPDATE, "cubbyhole/kept", {"v": "1"}, token=mine)
    engine = await engine.restart()
    assert (await engine.call(Op.READ, "cubbyhole/kept", token=mine)).data == {"v": "1"}
