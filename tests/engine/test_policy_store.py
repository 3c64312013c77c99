"""engine.policy.store.PolicyStore over the real barrier: built-ins, CRUD rules, persistence, and the
compiled-ACL cache (one compilation per policy change, never a stale one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.barrier import Barrier
from engine.crypto import new_key
from engine.errors import BadRequest
from engine.policy import DEFAULT_POLICY_TEXT, PolicyError, PolicyStore
from engine.policy.builtin import RESPONSE_WRAPPING_POLICY_TEXT
from engine.request import Op
from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage
from tests.engine.storage_doubles import PassThrough

APP = 'path "secret/app/*" { capabilities = ["read"] }'


@pytest.fixture
async def physical() -> AsyncIterator[MemoryStorage]:
    storage = MemoryStorage()
    yield storage
    await storage.close()


@pytest.fixture
async def barrier(physical: MemoryStorage) -> AsyncIterator[Barrier]:
    barrier = Barrier(physical)
    key = new_key()
    await barrier.initialize(key)
    await barrier.unseal(key)
    yield barrier
    barrier.seal()


@pytest.fixture
async def store(barrier: Barrier) -> PolicyStore:
    store = PolicyStore(barrier)
    await store.setup()
    return store


async def test_setup_stores_default_and_hides_the_internal_ones(store: PolicyStore) -> None:
    assert await store.names() == ["default"]
    default = await store.get("default")
    assert default is not None and default.raw == DEFAULT_POLICY_TEXT
    wrapping = await store.get("response-wrapping")
    assert wrapping is not None and wrapping.raw == RESPONSE_WRAPPING_POLICY_TEXT


async def test_policies_live_behind_the_barrier(store: PolicyStore, barrier: Barrier, physical: MemoryStorage) -> None:
    await store.put("app", APP)
    assert await barrier.get("sys/policy/app") is not None
    stored = await physical.get("sys/policy/app")
    assert stored is not None and b"secret/app" not in stored  # encrypted, not in clear


async def test_names_are_trimmed_and_lower_cased(store: PolicyStore) -> None:
    await store.put("  App ", APP)
    assert await store.names() == ["app", "default"]
    policy = await store.get("APP")
    assert policy is not None and policy.name == "app" and policy.raw == APP


async def test_a_bad_policy_is_refused_and_not_stored(store: PolicyStore) -> None:
    with pytest.raises(PolicyError):
        await store.put("bad", 'path "x" { capabilities = ["fly"] }')
    assert await store.get("bad") is None


@pytest.mark.parametrize("name", ["root", "ROOT", "response-wrapping", "control-group"])
async def test_immutable_policies_cannot_be_updated_or_deleted(store: PolicyStore, name: str) -> None:
    with pytest.raises(BadRequest, match=f'cannot update "{name.lower()}" policy'):
        await store.put(name, APP)
    with pytest.raises(BadRequest, match=f'cannot delete "{name.lower()}" policy'):
        await store.delete(name)


async def test_default_can_be_changed_but_not_deleted(store: PolicyStore, barrier: Barrier) -> None:
    await store.put("default", APP)
    with pytest.raises(BadRequest, match=r"^cannot delete default policy$"):
        await store.delete("default")
    # A restart keeps the operator's default rather than restoring Vault's.
    again = PolicyStore(barrier)
    await again.setup()
    default = await again.get("default")
    assert default is not None and default.raw == APP


async def test_a_tampered_immutable_policy_is_restored_at_setup(store: PolicyStore, barrier: Barrier) -> None:
    await barrier.put("sys/policy/response-wrapping", b'{"version": 2, "raw": "path \\"*\\" {policy=\\"sudo\\"}"}')
    again = PolicyStore(barrier)
    await again.setup()
    restored = await again.get("response-wrapping")
    assert restored is not None and restored.raw == RESPONSE_WRAPPING_POLICY_TEXT


async def test_root_is_known_but_not_stored(store: PolicyStore) -> None:
    root = await store.get("root")
    assert root is not None and root.raw == "" and root.rules == ()
    assert "root" not in await store.names()


async def test_delete_of_a_missing_policy_is_fine(store: PolicyStore) -> None:
    await store.delete("never-was")
    await store.put("app", APP)
    await store.delete("app")
    assert await store.get("app") is None


# --- compiled ACLs ---------------------------------------------------------------------------------


async def test_an_acl_is_compiled_once_per_set_of_policies(store: PolicyStore) -> None:
    await store.put("app", APP)
    first = await store.acl_for(["app", "default"])
    assert await store.acl_for(["DEFAULT", " app", "app"]) is first  # order, case and repeats ignored
    assert first.check(Op.READ, "secret/app/x").allowed
    assert first.check(Op.READ, "auth/token/lookup-self").allowed


async def test_a_policy_change_recompiles(store: PolicyStore) -> None:
    await store.put("app", APP)
    before = await store.acl_for(["app"])
    await store.put("app", 'path "secret/app/*" { capabilities = ["list"] }')
    after = await store.acl_for(["app"])
    assert after is not before
    assert not after.check(Op.READ, "secret/app/x").allowed
    await store.delete("app")
    assert not (await store.acl_for(["app"])).check(Op.LIST, "secret/app/x").allowed


async def test_unknown_policy_names_grant_nothing(store: PolicyStore) -> None:
    acl = await store.acl_for(["ghost"])
    assert acl.rule_count == 0
    assert acl.capabilities("secret/x") == ["deny"]


async def test_root_among_the_names_makes_a_root_acl(store: PolicyStore) -> None:
    acl = await store.acl_for(["root"])
    assert acl.is_root and acl.capabilities("x") == ["root"]
    assert await store.sudo_privilege(["root"], "sys/raw/x")
    await store.put("admin", 'path "sys/raw/*" { capabilities = ["read", "sudo"] }')
    assert await store.sudo_privilege(["admin"], "sys/raw/x")
    assert not await store.sudo_privilege(["default"], "sys/raw/x")


async def test_the_acl_cache_is_bounded(barrier: Barrier) -> None:
    store = PolicyStore(barrier, acl_cache_size=2)
    await store.setup()
    a = await store.acl_for(["a"])
    b = await store.acl_for(["b"])
    assert await store.acl_for(["a"]) is a  # refreshed: now the most recently used
    await store.acl_for(["c"])  # evicts "b", the least recently used
    assert await store.acl_for(["a"]) is a
    assert await store.acl_for(["b"]) is not b


class SlowReads(PassThrough):
    """A Storage that hands back what it read only once `release` is set: lets a policy change land
    between an ACL's storage read and its compilation."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner)
        self.release = asyncio.Event()
        self.reading = asyncio.Event()
        self.hold = False

    async def get(self, key: str) -> bytes | None:
        value = await self.inner.get(key)
        if self.hold:
            self.reading.set()
            await self.release.wait()
        return value


async def test_an_acl_raced_by_a_change_is_not_cached(barrier: Barrier) -> None:
    first = PolicyStore(barrier)
    await first.setup()
    await first.put("app", APP)
    storage = SlowReads(barrier)
    store = PolicyStore(storage)  # as after a restart: nothing cached, the next compile reads storage
    storage.hold = True
    racing = asyncio.create_task(store.acl_for(["app"]))
    await asyncio.wait_for(storage.reading.wait(), timeout=5)
    storage.hold = False
    await store.put("app", 'path "secret/app/*" { capabilities = ["list"] }')
    storage.release.set()
    stale = await asyncio.wait_for(racing, timeout=5)
    assert stale.check(Op.READ, "secret/app/x").allowed  # answered from what it read...
    fresh = await store.acl_for(["app"])  # ...but neither it nor the old policy text was kept
    assert fresh is not stale
    assert not fresh.check(Op.READ, "secret/app/x").allowed
    assert fresh.check(Op.LIST, "secret/app/x").allowed


async def test_any_spelling_of_a_policy_set_finds_its_acl_and_a_change_replaces_it(store: PolicyStore) -> None:
    await store.put("app", APP)
    first = await store.acl_for(["default", "app"])
    assert await store.acl_for(["app", "default"]) is first
    assert await store.acl_for([" App", "default"]) is first
    assert await store.acl_for(["default", "app"]) is first  # the remembered spelling
    await store.put("app", 'path "secret/other" { capabilities = ["read"] }')
    changed = await store.acl_for(["default", "app"])
    assert changed is not first
    assert not changed.check(Op.READ, "secret/app").allowed
    assert changed.check(Op.READ, "secret/other").allowed
    await store.delete("app")
    assert not (await store.acl_for(["default", "app"])).check(Op.READ, "secret/other").allowed
