"""The request hot path's caches never outlive a change: the token entry cache and the compiled ACLs.
Each change (revocation, a use, expiry, a policy edit) shows on the very next request."""

from __future__ import annotations

import asyncio

import pytest

from engine.errors import PermissionDenied
from engine.request import Op
from engine.storage.memory import MemoryStorage
from engine.tokens.entry import TokenEntry
from engine.tokens.entry_cache import EntryCache
from engine.tokens.parsed_entries import ParsedEntries
from engine.tokens.store import TokenStore
from tests.engine.leasing import World, make_world

READ_SECRETS = 'path "secret/*" { capabilities = ["read", "create", "update"] }'


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> World:
    world = await make_world(monkeypatch)
    await world.call(Op.UPDATE, "sys/policies/acl/reader", {"policy": READ_SECRETS})
    await world.call(Op.UPDATE, "secret/app", {"password": "s3cret"})
    return world


async def _token(world: World, **params: object) -> str:
    response = await world.call(Op.UPDATE, "auth/token/create", {"policies": ["reader"], **params})
    assert response.auth is not None
    return str(response.auth["client_token"])


async def _read(world: World, token: str) -> None:
    response = await world.call(Op.READ, "secret/app", token=token)
    assert response.data == {"password": "s3cret"}


async def test_a_revoked_token_is_refused_on_the_next_request(world: World) -> None:
    token = await _token(world)
    await _read(world, token)
    await _read(world, token)  # now served from the cache
    await world.call(Op.UPDATE, "auth/token/revoke", {"token": token})
    with pytest.raises(PermissionDenied):
        await _read(world, token)


async def test_every_use_counts_even_when_the_entry_is_cached(world: World) -> None:
    token = await _token(world, num_uses=3)
    for _ in range(3):
        await _read(world, token)
    with pytest.raises(PermissionDenied):
        await _read(world, token)


async def test_an_expired_token_is_refused_although_its_entry_is_cached(world: World) -> None:
    token = await _token(world, ttl="60s")
    await _read(world, token)
    world.clock.advance(61)
    with pytest.raises(PermissionDenied):
        await _read(world, token)


async def test_a_policy_edit_applies_to_the_next_request(world: World) -> None:
    token = await _token(world)
    await _read(world, token)
    await world.call(Op.UPDATE, "sys/policies/acl/reader", {"policy": 'path "other/*" { capabilities = ["read"] }'})
    with pytest.raises(PermissionDenied):
        await _read(world, token)
    await world.call(Op.UPDATE, "sys/policies/acl/reader", {"policy": READ_SECRETS})
    await _read(world, token)


async def test_a_renewal_is_seen_by_the_next_lookup(world: World) -> None:
    token = await _token(world, ttl="60s", explicit_max_ttl="1h")
    await _read(world, token)
    await world.call(Op.UPDATE, "auth/token/renew-self", {"increment": "600s"}, token=token)
    world.clock.advance(120)  # past the first TTL, within the renewed one
    await _read(world, token)


class PausingStorage(MemoryStorage):
    """Memory storage whose reads wait for `release` once `pause` is set: a read overtaken by a write,
    which cannot be arranged reliably on real storage."""

    def __init__(self) -> None:
        super().__init__()
        self.pause = False
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        value = await super().get(key)
        if self.pause:
            self.reading.set()
            await self.release.wait()
        return value


async def test_a_read_overtaken_by_a_write_is_not_kept() -> None:
    storage = PausingStorage()
    await storage.put("id/a", b"old")
    cache = EntryCache(storage, "id/")
    storage.pause = True
    slow_read = asyncio.create_task(cache.get("id/a"))
    await storage.reading.wait()  # the read has its (old) value in hand
    storage.pause = False
    await cache.put("id/a", b"new")
    storage.release.set()
    assert await slow_read == b"old"  # it started before the write
    assert await cache.get("id/a") == b"new"  # but nothing stale was kept


async def test_the_cache_is_bounded_and_only_holds_its_prefix() -> None:
    storage = MemoryStorage()
    cache = EntryCache(storage, "id/", capacity=2)
    for name in ("a", "b", "c"):
        await cache.put(f"id/{name}", name.encode())
        assert await cache.get(f"id/{name}") == name.encode()
    await cache.put("other", b"x")
    assert await cache.get("other") == b"x"
    assert len(cache) == 2
    await cache.delete("id/c")
    assert await cache.get("id/c") is None
    await cache.batch([])
    assert await cache.list("id/") == ["a", "b"]


# --- parsed token entries ------------------------------------------------------------------------


async def _store_with_token(**settings: object) -> tuple[TokenStore, str]:
    store = TokenStore(MemoryStorage())
    await store.setup()
    token, _ = await store.create(
        policies=["reader"],
        path="auth/token/create",
        display_name="token",
        meta={"team": "blue"},
        internal_data={"role": {"names": ["a"]}},
        **settings,  # type: ignore[arg-type]
    )
    return store, token


async def test_a_lookup_hands_out_an_entry_its_caller_may_change() -> None:
    store, token = await _store_with_token()
    first = await store.lookup(token)
    assert first is not None
    first.policies.append("root")
    assert first.meta is not None
    first.meta["team"] = "red"
    first.internal_data["role"]["names"].append("b")
    first.num_uses = 99
    again = await store.lookup(token)
    assert again is not None and again is not first
    assert again.policies == ["reader"]
    assert again.meta == {"team": "blue"}
    assert again.internal_data == {"role": {"names": ["a"]}}
    assert again.num_uses == 0


async def test_a_use_is_seen_by_the_next_lookup_of_a_memoised_entry() -> None:
    store, token = await _store_with_token(num_uses=3)
    entry = await store.lookup(token)
    assert entry is not None
    await store.lookup(token)  # parsed once, now remembered
    await store.use(entry)
    after = await store.lookup(token)
    assert after is not None and after.num_uses == 2
    await store.revoke(token)
    assert await store.lookup(token) is None


def test_a_parse_is_reused_only_for_the_very_same_bytes() -> None:
    parsed = ParsedEntries(capacity=2)
    entry = TokenEntry("h", "acc", ["p"], "auth/token/create", "token", 1)
    raw = entry.to_json()
    assert parsed.parse("h", raw) == entry
    # Equal content in a new object (what a write leaves behind) is parsed again, not trusted.
    entry.policies = ["changed"]
    changed = entry.to_json()
    assert parsed.parse("h", changed).policies == ["changed"]
    for name in ("x", "y", "z"):
        parsed.parse(name, TokenEntry(name, "", [], "p", "d", 1).to_json())
    assert len(parsed) == 2
