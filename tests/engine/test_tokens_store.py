"""The token store: tokens kept only as salted hashes, looked up by hashing, revoked with their index."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from engine.tokens import ACCESSOR_PREFIX, ID_PREFIX, ROOT_PATH, SALT_KEY, TokenStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def store_over(storage: MemoryStorage, clock: Clock | None = None) -> TokenStore:
    store = TokenStore(storage, clock or Clock())
    await store.setup()
    return store


async def test_root_token_format_and_entry() -> None:
    store = await store_over(MemoryStorage())
    token = await store.create_root_token()
    assert re.fullmatch(r"hvs\.[A-Za-z0-9]{24}", token)
    entry = await store.lookup(token)
    assert entry is not None
    assert entry.policies == ["root"] and entry.path == ROOT_PATH and entry.display_name == "root"
    assert entry.orphan and entry.ttl == 0 and entry.is_root
    assert re.fullmatch(r"[A-Za-z0-9]{24}", entry.accessor)


async def test_the_token_never_reaches_storage_in_clear() -> None:
    # Plain memory, no barrier: whatever the store writes is visible here byte for byte.
    storage = MemoryStorage()
    store = await store_over(storage)
    tokens = [await store.create_root_token() for _ in range(3)]
    chosen, _ = await store.create(
        policies=["root"], path=ROOT_PATH, display_name="root", token="my-dev-root"
    )
    tokens.append(chosen)
    keys = await all_keys(storage)
    assert len(keys) == 1 + 2 * len(tokens)  # the salt, and an entry and an accessor index per token
    stored = b"".join([key.encode() + (await storage.get(key) or b"") for key in keys])
    for token in tokens:
        assert token.encode() not in stored
        assert token.removeprefix("hvs.").encode() not in stored
        assert await store.lookup(token) is not None


async def test_entries_are_keyed_by_a_salted_hash() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    token = await store.create_root_token()
    entry = await store.lookup(token)
    assert entry is not None
    assert await storage.get(ID_PREFIX + entry.id_hash) is not None
    assert await storage.get(ACCESSOR_PREFIX + entry.accessor) is not None
    salt = await storage.get(SALT_KEY)
    assert salt is not None and len(salt) == 32
    # Another installation (another salt) hashes the same token differently.
    other = await store_over(MemoryStorage())
    assert other.hash_token(token) != store.hash_token(token)


async def test_salt_is_created_once_and_tokens_survive_a_restart() -> None:
    storage = MemoryStorage()
    token = await (await store_over(storage)).create_root_token()
    salt = await storage.get(SALT_KEY)
    again = await store_over(storage)
    assert await storage.get(SALT_KEY) == salt
    assert await again.lookup(token) is not None


async def test_unknown_and_empty_tokens_are_not_found() -> None:
    store = await store_over(MemoryStorage())
    await store.create_root_token()
    assert await store.lookup("hvs.unknown") is None
    assert await store.lookup("") is None
    assert await store.lookup_accessor("nope") is None
    assert await store.lookup_accessor("../id/x") is None


async def test_revoke_removes_the_entry_and_its_accessor_index() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    token = await store.create_root_token()
    entry = await store.lookup(token)
    assert entry is not None and await store.lookup_accessor(entry.accessor) == entry
    await store.revoke(token)
    assert await store.lookup(token) is None
    assert await storage.list("sys/token/id/") == [] and await storage.list("sys/token/accessor/") == []
    await store.revoke(token)  # revoking twice is not an error


async def test_a_token_with_a_ttl_expires_at_lookup() -> None:
    clock = Clock()
    store = await store_over(MemoryStorage(), clock)
    token, entry = await store.create(policies=["default"], path="p", display_name="t", ttl=60)
    assert entry.expire_time() == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=59)
    live = await store.lookup(token)
    assert live is not None and live.remaining(clock.now) == 1
    clock.now += timedelta(seconds=1)
    assert await store.lookup(token) is None


async def test_explicit_max_ttl_caps_the_ttl() -> None:
    store = await store_over(MemoryStorage())
    _, capped = await store.create(
        policies=["default"], path="p", display_name="t", ttl=3600, explicit_max_ttl=60
    )
    _, root = await store.create(policies=["root"], path="p", display_name="t", explicit_max_ttl=120)
    assert (capped.ttl, root.ttl) == (60, 120)


async def test_children_record_their_parent_by_hash() -> None:
    store = await store_over(MemoryStorage())
    parent_token = await store.create_root_token()
    parent = await store.lookup(parent_token)
    assert parent is not None
    _, child = await store.create(policies=["root"], path="p", display_name="c", parent=parent)
    assert child.parent_hash == parent.id_hash and not child.orphan


async def test_reprs_hold_no_secret() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    token = await store.create_root_token()
    entry = await store.lookup(token)
    salt = await storage.get(SALT_KEY)
    assert salt is not None
    for text in (repr(store), repr(entry)):
        assert token not in text and salt.hex() not in text and repr(salt) not in text
