"""The token store on its own: tokens kept only as salted hashes, the parent/child tree, use counts,
renewals, hooks, logins (create_from_auth) and tidy."""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

from engine.crypto import random_base62
from engine.crypto.keys import _BIASED, _TO_BASE62
from engine.errors import BadRequest, PermissionDenied, StorageError
from engine.request import Auth
from engine.storage.base import BatchOp, Put
from engine.storage.memory import MemoryStorage
from engine.storage.view import all_keys
from engine.tokens import (
    ACCESSOR_PREFIX,
    BATCH_KEY,
    ID_PREFIX,
    PARENT_PREFIX,
    ROOT_PATH,
    SALT_KEY,
    USED_UP,
    Limits,
    TokenEntry,
    TokenStore,
)
from tests.engine.core_harness import START, Clock


async def store_over(storage: MemoryStorage, clock: Clock | None = None) -> TokenStore:
    store = TokenStore(storage, clock or Clock())
    await store.setup()
    return store


async def child_of(store: TokenStore, parent: TokenEntry | None, **settings: object) -> tuple[str, TokenEntry]:
    settings = {"policies": ["default"], "path": "auth/token/create", "display_name": "token", **settings}
    return await store.create(parent=parent, **settings)  # type: ignore[arg-type]


async def root_entry(store: TokenStore) -> tuple[str, TokenEntry]:
    token = await store.create_root_token()
    entry = await store.lookup(token)
    assert entry is not None
    return token, entry


async def test_root_token_format_and_entry() -> None:
    store = await store_over(MemoryStorage())
    token, entry = await root_entry(store)
    assert re.fullmatch(r"hvs\.[A-Za-z0-9]{24}", token)
    assert entry.policies == ["root"] and entry.path == ROOT_PATH and entry.display_name == "root"
    assert entry.orphan and entry.ttl == 0 and entry.expires == 0 and entry.is_root
    assert re.fullmatch(r"[A-Za-z0-9]{24}", entry.accessor)


async def test_no_token_ever_reaches_storage_in_clear() -> None:
    # Plain memory, no barrier: whatever the store writes is visible here byte for byte.
    storage = MemoryStorage()
    store = await store_over(storage)
    root, parent = await root_entry(store)
    tokens = [root, await store.create_root_token()]
    tokens.append((await child_of(store, parent, ttl=60, num_uses=3))[0])
    tokens.append((await child_of(store, parent, token="my-chosen-id"))[0])
    tokens.append((await child_of(store, parent, type="batch", ttl=60))[0])
    child, child_entry = await child_of(store, parent, ttl=60, renewable=True)
    tokens.append(child)
    await store.use(child_entry)
    await store.renew(child_entry, 30)
    stored = b"".join([key.encode() + (await storage.get(key) or b"") for key in await all_keys(storage)])
    for token in tokens:
        assert await store.lookup(token) is not None
        assert token.encode() not in stored
        assert token.removeprefix("hvs.").removeprefix("hvb.").encode() not in stored
        assert token[-16:].encode() not in stored


async def test_layout_entries_are_keyed_by_a_salted_hash() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    _, parent = await root_entry(store)
    token, child = await child_of(store, parent)
    assert child.id_hash == store.hash_token(token)
    for key in (
        ID_PREFIX + child.id_hash,
        ACCESSOR_PREFIX + child.accessor,
        f"{PARENT_PREFIX}{parent.id_hash}/{child.id_hash}",
    ):
        assert await storage.get(key) is not None, key
    salt, batch_key = await storage.get(SALT_KEY), await storage.get(BATCH_KEY)
    assert salt is not None and len(salt) == 32 and batch_key is not None and len(batch_key) == 32
    # Another installation (another salt) hashes the same token differently.
    other = await store_over(MemoryStorage())
    assert other.hash_token("hvs.same") != store.hash_token("hvs.same")


async def test_salt_and_batch_key_are_created_once_and_tokens_survive_a_restart() -> None:
    storage = MemoryStorage()
    first = await store_over(storage)
    token = await first.create_root_token()
    batch, _ = await child_of(first, None, type="batch", ttl=60)
    salt, key = await storage.get(SALT_KEY), await storage.get(BATCH_KEY)
    again = await store_over(storage)
    assert (await storage.get(SALT_KEY), await storage.get(BATCH_KEY)) == (salt, key)
    assert await again.lookup(token) is not None
    assert await again.lookup(batch) is not None


async def test_unknown_empty_and_malformed_tokens_are_not_found() -> None:
    store = await store_over(MemoryStorage())
    await store.create_root_token()
    for token in ("hvs.unknown", "", "hvb.", "hvb.!!!", "hvb.AAAA"):
        assert await store.lookup(token) is None
    assert await store.lookup_accessor("nope") is None
    assert await store.lookup_accessor("../id/x") is None
    assert await store.lookup_hash("../salt") is None


async def test_a_token_with_a_ttl_expires_at_lookup() -> None:
    clock = Clock()
    store = await store_over(MemoryStorage(), clock)
    token, entry = await child_of(store, None, ttl=60)
    assert entry.expire_time() == START + timedelta(seconds=60)
    clock.advance(59)
    live = await store.lookup(token)
    assert live is not None and live.remaining(clock.now) == 1
    clock.advance(1)
    assert await store.lookup(token) is None
    assert await store.lookup_accessor(entry.accessor) is None


async def test_explicit_max_ttl_caps_the_ttl_even_of_root_tokens() -> None:
    store = await store_over(MemoryStorage())
    _, capped = await child_of(store, None, ttl=3600, explicit_max_ttl=60)
    _, root = await store.create(policies=["root"], path="p", display_name="t", explicit_max_ttl=120)
    assert (capped.ttl, root.ttl, root.expires) == (60, 120, root.creation_time + 120)


# --- the tree ---------------------------------------------------------------------------------------


async def test_revoking_a_token_revokes_its_whole_tree_children_first() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    revoked: list[str] = []

    async def on_revoked(entry: TokenEntry) -> None:
        revoked.append(entry.display_name)

    store.on_revoked = on_revoked
    _, top = await child_of(store, None, display_name="top")
    _, middle = await child_of(store, top, display_name="middle")
    _, leaf = await child_of(store, middle, display_name="leaf")
    sibling, _ = await child_of(store, top, display_name="sibling")
    survivor, _ = await child_of(store, None, display_name="survivor")
    await store.revoke_tree(top)
    assert set(revoked) == {"top", "middle", "leaf", "sibling"}
    assert revoked.index("leaf") < revoked.index("middle") < revoked.index("top")
    assert await store.lookup(sibling) is None and await store.lookup(survivor) is not None
    keys = await all_keys(storage, "sys/token/")
    assert not [k for k in keys if k.startswith("parent/")]
    assert len([k for k in keys if k.startswith("id/")]) == 1  # the survivor
    assert await store.accessors() == [(await store.lookup(survivor)).accessor]  # type: ignore[union-attr]
    assert leaf.accessor not in await store.accessors()


async def test_revoke_orphan_keeps_the_children_as_orphans() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    _, parent = await child_of(store, None)
    child, child_entry = await child_of(store, parent)
    grandchild, _ = await child_of(store, child_entry)
    await store.revoke_orphan(parent)
    assert await store.lookup_hash(parent.id_hash) is None
    orphan = await store.lookup(child)
    assert orphan is not None and orphan.orphan and orphan.parent_hash == ""
    grand = await store.lookup(grandchild)
    assert grand is not None and grand.parent_hash == child_entry.id_hash  # the subtree is intact
    assert await storage.list(f"{PARENT_PREFIX}{parent.id_hash}/") == []
    # Revoking the former child now takes the grandchild with it.
    await store.revoke_tree(orphan)
    assert await store.lookup(grandchild) is None


async def test_a_failing_revocation_hook_leaves_the_token_unusable_and_retryable() -> None:
    store = await store_over(MemoryStorage())
    token, entry = await child_of(store, None)

    async def unreachable(entry: TokenEntry) -> None:
        raise ConnectionError("lease backend down")

    store.on_revoked = unreachable
    with pytest.raises(ConnectionError):
        await store.revoke_tree(entry)
    assert await store.lookup(token) is None  # not usable any more...
    stuck = await store.lookup_hash(entry.id_hash, tainted=True)
    assert stuck is not None and stuck.used_up  # ...but still there to be revoked again
    store.on_revoked = TokenStore.on_revoked
    await store.revoke(token)
    assert await store.lookup_hash(entry.id_hash, tainted=True) is None


# --- uses -------------------------------------------------------------------------------------------


async def test_use_counts_down_and_the_last_use_revokes_after_the_request() -> None:
    store = await store_over(MemoryStorage())
    token, entry = await child_of(store, None, num_uses=2)
    first = await store.use(entry)
    assert first.num_uses == 1 and await store.lookup(token) is not None
    async with store.using(first) as last:
        assert last.num_uses == USED_UP and last.used_up
        # During its last request the token is no longer found by ordinary lookups.
        assert await store.lookup(token) is None
        assert await store.lookup_hash(entry.id_hash, tainted=True) is not None
    assert await store.lookup_hash(entry.id_hash, tainted=True) is None
    with pytest.raises(PermissionDenied):
        await store.use(first)


async def test_concurrent_uses_never_exceed_num_uses() -> None:
    store = await store_over(MemoryStorage())
    _, entry = await child_of(store, None, num_uses=3)
    results = await asyncio.gather(*(store.use(entry) for _ in range(8)), return_exceptions=True)
    granted = [r for r in results if isinstance(r, TokenEntry)]
    assert len(granted) == 3 and sum(isinstance(r, PermissionDenied) for r in results) == 5
    assert sorted(r.num_uses for r in granted) == [USED_UP, 1, 2]


async def test_unlimited_tokens_are_not_rewritten_per_use() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    _, entry = await child_of(store, None)
    before = await storage.get(ID_PREFIX + entry.id_hash)
    assert await store.use(entry) is entry
    assert await storage.get(ID_PREFIX + entry.id_hash) == before


async def test_cidr_bound_tokens_only_work_from_their_networks() -> None:
    store = await store_over(MemoryStorage())
    _, entry = await child_of(store, None, bound_cidrs=["10.0.0.0/8", "192.168.1.7/32"])
    assert await store.use(entry, "10.1.2.3") is entry
    assert await store.use(entry, "192.168.1.7") is entry
    for address in ("192.168.1.8", "127.0.0.1", "", None, "not-an-ip"):
        with pytest.raises(PermissionDenied):
            await store.use(entry, address)


# --- renewals ---------------------------------------------------------------------------------------


async def test_renew_extends_from_now_within_the_max_ttl() -> None:
    clock = Clock()
    store = await store_over(MemoryStorage(), clock)
    renewed: list[int] = []

    async def on_renewed(entry: TokenEntry) -> None:
        renewed.append(entry.expires)

    store.on_renewed = on_renewed
    token, entry = await child_of(store, None, ttl=600, renewable=True, mount_max_ttl=3600)
    clock.advance(300)
    again = await store.renew(entry)  # no increment: the last TTL again
    assert again.expires == entry.creation_time + 300 + 600 and again.lease_ttl == 600
    assert again.last_renewal_time == entry.creation_time + 300 and renewed == [again.expires]
    clock.advance(100)
    longer = await store.renew(entry, 1800)
    assert longer.expires == entry.creation_time + 400 + 1800
    warnings: list[str] = []
    capped = await store.renew(entry, 99999, warnings=warnings)
    assert capped.expires == entry.creation_time + 3600  # never past creation + max TTL
    assert warnings == [
        'TTL of "27h46m39s" exceeded the effective max_ttl of "53m20s"; TTL value is capped accordingly'
    ]
    assert (await store.lookup(token)).expires == capped.expires  # type: ignore[union-attr]


async def test_renewal_respects_explicit_max_ttl_and_the_mount_limits_given() -> None:
    store = await store_over(MemoryStorage())
    _, explicit = await child_of(store, None, ttl=60, renewable=True, explicit_max_ttl=100)
    assert (await store.renew(explicit, 1000)).expires == explicit.creation_time + 100
    _, plain = await child_of(store, None, ttl=60, renewable=True)
    assert (await store.renew(plain, 1000, limits=Limits(60, 300))).expires == plain.creation_time + 300


async def test_periodic_tokens_renew_to_their_period_forever() -> None:
    clock = Clock()
    store = await store_over(MemoryStorage(), clock)
    _, entry = await child_of(store, None, ttl=60, period=60, renewable=True, mount_max_ttl=3600)
    for _ in range(100):  # far past any max TTL
        clock.advance(50)
        renewed = await store.renew(entry, 5000)
        assert renewed.expires == int(clock.now.timestamp()) + 60


async def test_what_cannot_be_renewed() -> None:
    clock = Clock()
    store = await store_over(MemoryStorage(), clock)
    _, root = await root_entry(store)
    _, fixed = await child_of(store, None, ttl=60, renewable=False)
    _, batch = await child_of(store, None, ttl=60, type="batch")
    _, expiring = await child_of(store, None, ttl=60, renewable=True)
    for entry, message in (
        (root, "lease is not renewable"),
        (fixed, "lease is not renewable"),
        (batch, "batch tokens cannot be renewed"),
    ):
        with pytest.raises(BadRequest) as caught:
            await store.renew(entry)
        assert caught.value.message == message
    clock.advance(60)
    with pytest.raises(BadRequest, match="token not found"):
        await store.renew(expiring)


# --- hooks ------------------------------------------------------------------------------------------


class RefusingStorage(MemoryStorage):
    """Memory storage whose batches fail while `refusing` is set (a write that cannot reach the disk)."""

    refusing = False

    async def batch(self, ops: Sequence[BatchOp]) -> None:
        if self.refusing:
            raise StorageError("disk unavailable")
        await super().batch(ops)


async def test_a_leased_tokens_lease_is_written_in_the_tokens_own_batch() -> None:
    storage = RefusingStorage()
    store = await store_over(storage)
    asked: list[str] = []
    committed: list[str] = []
    batches: list[list[str]] = []
    write_batch = storage.batch

    async def recording_batch(ops: Sequence[BatchOp]) -> None:
        await write_batch(ops)
        batches.append([op.key for op in ops])

    def lease_writes(entry: TokenEntry) -> tuple[list[BatchOp], Callable[[], None]]:
        asked.append(entry.display_name)
        return [Put(f"leases/{entry.display_name}", b"lease")], lambda: committed.append(entry.display_name)

    storage.batch = recording_batch  # type: ignore[method-assign]
    store.lease_writes = lease_writes
    await store.create_root_token()  # init's root token has no lease
    _, leased = await child_of(store, None, display_name="leased")
    await child_of(store, None, display_name="batch", type="batch", ttl=60)  # batch tokens have none
    assert asked == ["leased"] and committed == ["leased"]
    # One batch for the token: its entry, its accessor and its lease together.
    assert batches[-1] == [ID_PREFIX + leased.id_hash, ACCESSOR_PREFIX + leased.accessor, "leases/leased"]

    storage.refusing = True
    with pytest.raises(StorageError):
        await child_of(store, None, display_name="refused")
    storage.refusing = False
    assert asked == ["leased", "refused"]
    assert committed == ["leased"]  # nothing to time: neither the token nor its lease was stored
    assert await storage.get("leases/refused") is None
    assert len(await store.accessors()) == 2  # the root token and "leased"


# --- logins -----------------------------------------------------------------------------------------


async def test_create_from_auth_makes_vaults_login_token() -> None:
    store = await store_over(MemoryStorage())
    warnings: list[str] = []
    auth = Auth(policies=["Dev"], display_name="bob", metadata={"username": "bob"}, ttl=0, renewable=True)
    token, entry = await store.create_from_auth(
        auth, mount_path="auth/userpass/", path="auth/userpass/login/bob", mount_default_ttl=600, warnings=warnings
    )
    assert token.startswith("hvs.") and await store.lookup(token) == entry
    assert entry.policies == ["default", "dev"] and entry.orphan and entry.path == "auth/userpass/login/bob"
    assert entry.display_name == "userpass-bob" and entry.meta == {"username": "bob"}
    assert entry.ttl == 600 and entry.renewable and warnings == []
    _, capped = await store.create_from_auth(
        Auth(ttl=99 * 3600, no_default_policy=True), mount_path="auth/approle/", mount_max_ttl=3600, warnings=warnings
    )
    assert capped.ttl == 3600 and capped.policies == [] and capped.display_name == "approle"
    assert warnings == ['TTL of "99h" exceeded the effective max_ttl of "1h"; TTL value is capped accordingly']


async def test_create_from_auth_refuses_root_and_internal_policies() -> None:
    store = await store_over(MemoryStorage())
    for policies, message in ((["root"], "auth methods cannot create root tokens"), (["control-group"], "cannot")):
        with pytest.raises(BadRequest, match=message):
            await store.create_from_auth(Auth(policies=policies), mount_path="auth/userpass/")
    assert await store.accessors() == []


async def test_create_from_auth_token_types() -> None:
    store = await store_over(MemoryStorage())
    _, by_mount = await store.create_from_auth(Auth(), mount_path="auth/a/", mount_token_type="batch")
    _, by_method = await store.create_from_auth(Auth(token_type="batch"), mount_path="auth/a/")
    _, mount_default = await store.create_from_auth(Auth(), mount_path="auth/a/", mount_token_type="default-batch")
    _, forced = await store.create_from_auth(Auth(token_type="batch"), mount_path="auth/a/", mount_token_type="service")
    assert [e.type for e in (by_mount, by_method, mount_default, forced)] == ["batch", "batch", "batch", "service"]
    assert not by_mount.renewable and by_mount.accessor == ""
    with pytest.raises(BadRequest, match='batch tokens cannot have "num_uses" set'):
        await store.create_from_auth(Auth(token_type="batch", num_uses=3), mount_path="auth/a/")


# --- tidy and reprs ---------------------------------------------------------------------------------


async def test_tidy_clears_dangling_indexes_and_orphans_children_of_vanished_parents() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    _, parent = await child_of(store, None)
    child, _ = await child_of(store, parent)
    _, gone = await child_of(store, parent)
    # Simulate a crash that removed entries but not their indexes.
    await storage.delete(ID_PREFIX + parent.id_hash)
    await storage.delete(ID_PREFIX + gone.id_hash)
    counts = await store.tidy()
    assert counts == {"accessors": 2, "child_links": 1, "orphaned": 1}
    assert await all_keys(storage, PARENT_PREFIX) == []
    survivor = await store.lookup(child)
    assert survivor is not None and survivor.orphan
    assert await store.accessors() == [survivor.accessor]


async def test_reprs_hold_no_secret() -> None:
    storage = MemoryStorage()
    store = await store_over(storage)
    token, entry = await root_entry(store)
    batch, batch_entry = await child_of(store, None, type="batch", ttl=60)
    salt, key = await storage.get(SALT_KEY), await storage.get(BATCH_KEY)
    assert salt is not None and key is not None
    for text in (repr(store), repr(entry), repr(batch_entry)):
        for secret in (token, batch, salt.hex(), repr(salt), key.hex(), repr(key)):
            assert secret not in text


def test_random_base62_draws_every_character_of_the_alphabet() -> None:
    drawn = [random_base62(24) for _ in range(400)]
    assert all(len(value) == 24 and value.isascii() and value.isalnum() for value in drawn)
    assert len(set("".join(drawn))) == 62  # 9,600 draws: each character ~155 times, none left out
    assert len(set(drawn)) == 400


def test_random_base62_maps_the_bytes_it_keeps_evenly_onto_the_alphabet() -> None:
    kept = bytes(byte for byte in range(256) if byte not in _BIASED)
    images = collections.Counter(kept.translate(_TO_BASE62))
    assert len(images) == 62 and set(images.values()) == {4}  # 248 bytes kept, 4 per character: no bias
