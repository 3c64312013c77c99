"""The Storage contract, run against every backend in conftest.STORAGE_BACKENDS
(Vault's physical/testing.go ExerciseBackend, in spirit)."""

from __future__ import annotations

import asyncio
import os
import random
from typing import TYPE_CHECKING

import pytest

from engine.storage.base import Delete, Put, Storage, children

if TYPE_CHECKING:
    from tests.engine.conftest import StorageBackend


async def test_is_a_storage(storage: Storage) -> None:
    assert isinstance(storage, Storage)


async def test_get_of_a_missing_key_is_none(storage: Storage) -> None:
    assert await storage.get("missing") is None
    assert await storage.get("missing/nested/key") is None
    assert await storage.get("") is None


@pytest.mark.parametrize(
    "value",
    [b"", b"\x00", b"plain text", bytes(range(256)), b"\xff" * 3, os.urandom(1 << 20)],
    ids=["empty", "nul", "text", "all-bytes", "ff", "1MiB"],
)
async def test_put_then_get_returns_the_exact_bytes(storage: Storage, value: bytes) -> None:
    await storage.put("some/key", value)
    got = await storage.get("some/key")
    assert type(got) is bytes
    assert got == value


async def test_bytes_like_values_are_copied(storage: Storage) -> None:
    value = bytearray(b"before")
    await storage.put("k", value)
    value[:] = b"after!"
    assert await storage.get("k") == b"before"
    await storage.put("m", memoryview(b"view"))
    assert await storage.get("m") == b"view"


@pytest.mark.parametrize("bad", ["text", 5, None, 1.5])
async def test_a_value_that_is_not_bytes_is_refused(storage: Storage, bad: object) -> None:
    with pytest.raises(TypeError):
        await storage.put("k", bad)  # type: ignore[arg-type]
    assert await storage.get("k") is None


async def test_overwrite_replaces_the_value(storage: Storage, storage_backend: StorageBackend) -> None:
    await storage.put("k", b"first")
    await storage.put("k", b"second, longer value")
    assert await storage.get("k") == b"second, longer value"
    await storage.put("k", b"")
    assert await storage.get("k") == b""
    assert await storage.list("") == sorted([*storage_backend.root_names, "k"])


async def test_delete_removes_and_is_idempotent(storage: Storage) -> None:
    await storage.put("k", b"v")
    await storage.delete("k")
    assert await storage.get("k") is None
    await storage.delete("k")
    await storage.delete("never/existed")
    assert await storage.get("k") is None


async def test_delete_touches_only_its_own_key(storage: Storage) -> None:
    for key in ["a", "a/b", "ab", "a/b/c"]:
        await storage.put(key, key.encode())
    await storage.delete("a")
    await storage.delete("a/b")
    assert await storage.get("a") is None
    assert await storage.get("a/b") is None
    assert await storage.get("ab") == b"ab"
    assert await storage.get("a/b/c") == b"a/b/c"


async def test_list_of_an_empty_prefix(storage: Storage, storage_backend: StorageBackend) -> None:
    assert await storage.list("") == list(storage_backend.root_names)
    assert await storage.list("nothing/") == []
    assert await storage.list("nothing") == []


async def test_list_is_one_level_with_folders_ending_in_slash(storage: Storage) -> None:
    for key in ["app/config", "app/db/password", "app/db/user", "app/web/tls/cert", "apple", "zoo"]:
        await storage.put(key, b"v")
    assert await storage.list("app/") == ["config", "db/", "web/"]
    assert await storage.list("app/db/") == ["password", "user"]
    assert await storage.list("app/web/") == ["tls/"]
    assert await storage.list("app/web/tls/") == ["cert"]
    assert await storage.list("app/config/") == []
    root = await storage.list("")
    assert {"app/", "apple", "zoo"} <= set(root)
    assert root == sorted(root)


async def test_list_prefix_is_a_plain_string_prefix(storage: Storage) -> None:
    # Vault's backends match the prefix as a string: "app" is not "app/".
    for key in ["app/x", "app/y/z", "apple", "app"]:
        await storage.put(key, b"v")
    assert await storage.list("app") == ["/", "le"]
    assert await storage.list("app/") == ["x", "y/"]


async def test_a_key_and_a_folder_of_the_same_name_both_list(storage: Storage) -> None:
    await storage.put("dir", b"leaf")
    await storage.put("dir/child", b"v")
    await storage.put("dir-sibling", b"v")
    await storage.put("dir0", b"v")
    listing = await storage.list("")
    assert [n for n in listing if n.startswith("dir")] == ["dir", "dir-sibling", "dir/", "dir0"]


async def test_a_folder_disappears_with_its_last_key(storage: Storage) -> None:
    await storage.put("f/one", b"1")
    await storage.put("f/sub/two", b"2")
    assert await storage.list("f/") == ["one", "sub/"]
    await storage.delete("f/sub/two")
    assert await storage.list("f/") == ["one"]
    await storage.delete("f/one")
    assert await storage.list("f/") == []
    assert "f/" not in await storage.list("")


async def test_list_agrees_with_the_children_helper_on_a_random_tree(
    storage: Storage, storage_backend: StorageBackend
) -> None:
    rng = random.Random(1234)
    alphabet = ["a", "b", "ab", "b-", "a.b", "z", "é", "a b"]
    keys = sorted(
        {"/".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(150)}
        | {"t/", "t//x", "t/x/"}
    )
    await storage.batch([Put(key, key.encode()) for key in keys])
    prefixes = {""} | {key[:i] for key in keys for i in range(1, len(key) + 1)}
    root = set(storage_backend.root_names)
    for prefix in sorted(prefixes):
        expected = children(keys, prefix)
        if prefix == "":
            expected = sorted(set(expected) | root)
        assert await storage.list(prefix) == expected, prefix


async def test_unicode_and_space_keys(storage: Storage) -> None:
    keys = {
        "secret/ключ": b"1",
        "secret/with space/and more": b"2",
        "secret/emoji \U0001f511/x": b"3",
        "secret/ümlaut": b"4",
        "secret/日本語": b"5",
    }
    for key, value in keys.items():
        await storage.put(key, value)
    for key, value in keys.items():
        assert await storage.get(key) == value
    assert await storage.list("secret/") == sorted(
        ["ключ", "with space/", "emoji \U0001f511/", "ümlaut", "日本語"]
    )
    assert await storage.list("secret/emoji \U0001f511/") == ["x"]
    await storage.delete("secret/ключ")
    assert await storage.get("secret/ключ") is None


async def test_batch_applies_puts_and_deletes(storage: Storage) -> None:
    await storage.put("old", b"old")
    await storage.put("keep", b"keep")
    await storage.batch([Put("new/a", b"a"), Put("new/b", b"b"), Delete("old"), Delete("missing")])
    assert await storage.get("new/a") == b"a"
    assert await storage.get("new/b") == b"b"
    assert await storage.get("old") is None
    assert await storage.get("keep") == b"keep"


async def test_batch_applies_ops_in_order(storage: Storage) -> None:
    await storage.batch(
        [Put("x", b"1"), Put("x", b"2"), Put("y", b"y"), Delete("y"), Delete("z"), Put("z", b"z")]
    )
    assert await storage.get("x") == b"2"
    assert await storage.get("y") is None
    assert await storage.get("z") == b"z"


async def test_empty_batch_changes_nothing(storage: Storage) -> None:
    await storage.put("k", b"v")
    await storage.batch([])
    assert await storage.get("k") == b"v"


async def test_a_batch_with_an_invalid_op_applies_nothing(storage: Storage) -> None:
    await storage.put("existing", b"before")
    await storage.put("doomed", b"still here")
    ops = [
        Put("existing", b"after"),
        Put("fresh", b"new"),
        Delete("doomed"),
        Put("bad", "not bytes"),  # type: ignore[arg-type]
        Put("late", b"never"),
    ]
    with pytest.raises(TypeError):
        await storage.batch(ops)
    assert await storage.get("existing") == b"before"
    assert await storage.get("doomed") == b"still here"
    assert await storage.get("fresh") is None
    assert await storage.get("bad") is None
    assert await storage.get("late") is None


async def test_concurrent_writers_and_readers(storage: Storage) -> None:
    async def writer(n: int) -> None:
        for i in range(10):
            await storage.put(f"c/{n}/{i}", f"{n}:{i}".encode())

    async def reader(n: int) -> list[bytes | None]:
        return [await storage.get(f"c/{n}/{i}") for i in range(10)]

    await asyncio.gather(*(writer(n) for n in range(8)), *(reader(n) for n in range(8)))
    results = await asyncio.gather(*(reader(n) for n in range(8)))
    assert results == [[f"{n}:{i}".encode() for i in range(10)] for n in range(8)]
    assert await storage.list("c/") == [f"{n}/" for n in range(8)]
