"""Storage views: every key prefixed on the way down, listings relative to the view."""

from __future__ import annotations

import pytest

from engine.barrier import Barrier
from engine.crypto import new_key
from engine.errors import BadRequest
from engine.storage.base import Delete, Put
from engine.storage.memory import MemoryStorage
from engine.storage.view import View, all_keys, clear


async def test_keys_are_prefixed_in_the_underlying_storage() -> None:
    physical = MemoryStorage()
    view = View(physical, "logical/abc/")
    await view.put("app/db", b"secret")
    assert await physical.get("logical/abc/app/db") == b"secret"
    assert await physical.get("app/db") is None
    assert await view.get("app/db") == b"secret"
    await view.delete("app/db")
    assert await physical.get("logical/abc/app/db") is None


async def test_views_do_not_see_each_other() -> None:
    physical = MemoryStorage()
    one, two = View(physical, "logical/one/"), View(physical, "logical/two/")
    await one.put("k", b"1")
    await two.put("k", b"2")
    assert (await one.get("k"), await two.get("k")) == (b"1", b"2")
    assert await one.list("") == ["k"]


async def test_list_is_relative_to_the_view() -> None:
    physical = MemoryStorage()
    await physical.put("outside", b"x")
    view = View(physical, "logical/abc/")
    for key in ("a", "dir/b", "dir/sub/c"):
        await view.put(key, b"v")
    assert await view.list("") == ["a", "dir/"]
    assert await view.list("dir/") == ["b", "sub/"]
    assert await view.list("missing/") == []


async def test_batch_is_prefixed_too() -> None:
    physical = MemoryStorage()
    view = View(physical, "p/")
    await view.put("gone", b"old")
    await view.batch([Put("new", b"n"), Delete("gone")])
    assert await physical.get("p/new") == b"n"
    assert await physical.get("p/gone") is None


async def test_relative_paths_are_refused() -> None:
    view = View(MemoryStorage(), "logical/abc/")
    for key in ("../core/keyring", "a/../../b", "a..b"):
        with pytest.raises(BadRequest, match="relative paths not supported"):
            await view.get(key)
    with pytest.raises(BadRequest):
        await view.batch([Put("../x", b"v")])


async def test_sub_view_nests_prefixes() -> None:
    physical = MemoryStorage()
    sub = View(physical, "sys/").sub_view("token/")
    await sub.put("id/x", b"v")
    assert await physical.get("sys/token/id/x") == b"v"


def test_a_prefix_must_be_a_folder() -> None:
    with pytest.raises(ValueError):
        View(MemoryStorage(), "logical/abc")


async def test_all_keys_and_clear_walk_every_folder_of_the_view_only() -> None:
    physical = MemoryStorage()
    await physical.put("logical/other/keep", b"x")
    view = View(physical, "logical/abc/")
    for key in ("a", "d/b", "d/e/c"):
        await view.put(key, b"v")
    assert await all_keys(view) == ["a", "d/b", "d/e/c"]
    await clear(view)
    assert await all_keys(view) == []
    assert await physical.get("logical/other/keep") == b"x"


async def test_a_view_over_the_real_barrier_encrypts_under_the_full_key() -> None:
    physical = MemoryStorage()
    barrier = Barrier(physical)
    root_key = new_key()
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    view = View(barrier, "logical/abc/")
    await view.put("k", b"plaintext-marker")
    stored = await physical.get("logical/abc/k")
    assert stored is not None and b"plaintext-marker" not in stored
    assert await view.get("k") == b"plaintext-marker"
    assert await view.list("") == ["k"]
