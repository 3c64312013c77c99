"""KV v2's version lifecycle through Core.handle: delete/, undelete/ and destroy/ of chosen versions,
pruning past max_versions (the mount's config and the key's metadata), and delete_version_after on the
fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.errors import BadRequest
from engine.request import Op
from engine.storage.view import all_keys
from tests.engine.kv_v2_harness import Kv, close_kv, make_kv


@pytest.fixture
async def kv(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kv]:
    kv = await make_kv(monkeypatch)
    yield kv
    await close_kv(kv)


async def three_versions(kv: Kv, key: str = "k") -> None:
    for n in (1, 2, 3):
        await kv.write(key, {"v": n})


async def versions(kv: Kv, key: str = "k") -> dict[str, dict[str, Any]]:
    return (await kv.metadata(key))["versions"]


async def stored_version_count(kv: Kv) -> int:
    """How many version records the mount holds in storage (behind the barrier)."""
    return len([key for key in await all_keys(kv.engine.barrier, "logical/") if "/versions/" in key])


# --- delete / undelete / destroy -----------------------------------------------------------------------


async def test_delete_marks_chosen_versions_and_undelete_restores_them(kv: Kv) -> None:
    await three_versions(kv)
    kv.engine.clock.advance(5)
    assert (await kv.call(Op.UPDATE, "delete/k", {"versions": [1, 3]})).data is None
    listed = await versions(kv)
    assert [listed[n]["deletion_time"] for n in ("1", "2", "3")] == ["2030-01-01T12:00:05Z", "", "2030-01-01T12:00:05Z"]
    assert (await kv.read("k")).status == 404
    assert (await kv.read("k", 1)).status == 404
    assert await kv.secret("k", 2) == {"v": 2}
    await kv.call(Op.UPDATE, "undelete/k", {"versions": "1,3"})
    assert await kv.secret("k") == {"v": 3} and await kv.secret("k", 1) == {"v": 1}
    assert all(v["deletion_time"] == "" for v in (await versions(kv)).values())


async def test_versions_may_be_a_single_number_or_a_comma_list(kv: Kv) -> None:
    await three_versions(kv)
    await kv.call(Op.UPDATE, "delete/k", {"versions": 2})
    await kv.call(Op.UPDATE, "delete/k", {"versions": "1, 3"})
    assert all(v["deletion_time"] for v in (await versions(kv)).values())


@pytest.mark.parametrize(
    ("path", "message"),
    [("delete/k", "No version number provided"), ("undelete/k", "No version number provided"),
     ("destroy/k", "no version number provided")],
)  # fmt: skip
async def test_a_versions_list_is_required(kv: Kv, path: str, message: str) -> None:
    await three_versions(kv)
    for body in ({}, {"versions": []}, {"versions": ""}):
        error = await kv.error(Op.UPDATE, path, body)
        assert isinstance(error, BadRequest) and error.message == message
    error = await kv.error(Op.UPDATE, path, {"versions": ["one"]})
    assert isinstance(error, BadRequest) and "field 'versions'" in error.message
    assert await kv.secret("k") == {"v": 3}


async def test_unknown_versions_and_keys_are_skipped(kv: Kv) -> None:
    await three_versions(kv)
    for path in ("delete/k", "undelete/k", "destroy/k"):
        await kv.call(Op.UPDATE, path, {"versions": [99]})
        await kv.call(Op.UPDATE, path.replace("/k", "/nobody"), {"versions": [1]})
    meta = await kv.metadata("k")
    assert meta["current_version"] == 3 and all(
        v == {"created_time": "2030-01-01T12:00:00Z", "deletion_time": "", "destroyed": False}
        for v in meta["versions"].values()
    )
    await kv.missing(Op.READ, "metadata/nobody")


async def test_destroy_removes_the_data_for_good(kv: Kv) -> None:
    await three_versions(kv)
    assert await stored_version_count(kv) == 3
    await kv.call(Op.UPDATE, "destroy/k", {"versions": [2]})
    assert await stored_version_count(kv) == 2
    destroyed = await kv.read("k", 2)
    assert destroyed.status == 404 and destroyed.data is not None
    assert destroyed.data["data"] is None and destroyed.data["metadata"]["destroyed"] is True
    # Neither undelete nor delete touches a destroyed version.
    await kv.call(Op.UPDATE, "undelete/k", {"versions": [2]})
    await kv.call(Op.UPDATE, "delete/k", {"versions": [2]})
    assert (await versions(kv))["2"] == {"created_time": "2030-01-01T12:00:00Z", "deletion_time": "", "destroyed": True}
    assert (await kv.read("k", 2)).status == 404


async def test_deleting_the_latest_destroyed_version_is_a_no_op(kv: Kv) -> None:
    await three_versions(kv)
    await kv.call(Op.UPDATE, "destroy/k", {"versions": [3]})
    await kv.call(Op.DELETE, "data/k")
    assert (await versions(kv))["3"]["deletion_time"] == ""


# --- max_versions --------------------------------------------------------------------------------------


async def test_ten_versions_are_kept_by_default(kv: Kv) -> None:
    for n in range(1, 13):
        await kv.write("k", {"v": n})
    meta = await kv.metadata("k")
    assert sorted(int(n) for n in meta["versions"]) == list(range(3, 13))
    assert (meta["current_version"], meta["oldest_version"]) == (12, 3)
    assert await stored_version_count(kv) == 10
    await kv.missing(Op.READ, "data/k", {"version": "2"})
    assert await kv.secret("k", 3) == {"v": 3}


async def test_config_max_versions_prunes_on_the_next_write(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"max_versions": 2})
    for n in range(1, 5):
        await kv.write("k", {"v": n})
    meta = await kv.metadata("k")
    assert sorted(meta["versions"]) == ["3", "4"] and meta["oldest_version"] == 3
    assert await stored_version_count(kv) == 2


async def test_lowering_a_keys_max_versions_drops_several_at_once(kv: Kv) -> None:
    for n in range(1, 7):
        await kv.write("k", {"v": n})
    await kv.call(Op.UPDATE, "metadata/k", {"max_versions": 2})
    assert len(await versions(kv)) == 6  # nothing goes until the next write
    await kv.write("k", {"v": 7})
    assert sorted(await versions(kv)) == ["6", "7"]
    assert await stored_version_count(kv) == 2


@pytest.mark.parametrize(
    ("config", "key", "kept"),
    [(0, 0, 10), (0, 2, 2), (3, 0, 3), (3, 5, 5), (5, 3, 5)],  # the larger setting wins, as in Vault
)
async def test_the_larger_of_key_and_mount_max_versions_applies(kv: Kv, config: int, key: int, kept: int) -> None:
    await kv.call(Op.UPDATE, "config", {"max_versions": config})
    await kv.call(Op.UPDATE, "metadata/k", {"max_versions": key})
    for n in range(1, 13):
        await kv.write("k", {"v": n})
    assert len(await versions(kv)) == kept


# --- delete_version_after ----------------------------------------------------------------------------


async def test_config_delete_version_after_schedules_deletion(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"delete_version_after": "1h"})
    written = await kv.write("k", {"v": 1})
    assert written["deletion_time"] == "2030-01-01T13:00:00Z"
    assert await kv.secret("k") == {"v": 1}  # readable until then
    kv.engine.clock.advance(3599)
    assert await kv.secret("k") == {"v": 1}
    kv.engine.clock.advance(1)
    gone = await kv.read("k")
    assert gone.status == 404 and gone.data is not None
    assert gone.data["metadata"]["deletion_time"] == "2030-01-01T13:00:00Z"
    # Undelete starts a fresh period from now.
    await kv.call(Op.UPDATE, "undelete/k", {"versions": [1]})
    assert (await versions(kv))["1"]["deletion_time"] == "2030-01-01T14:00:00Z"
    assert await kv.secret("k") == {"v": 1}


async def test_the_shorter_of_key_and_mount_delete_version_after_applies(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"delete_version_after": "2h"})
    await kv.call(Op.UPDATE, "metadata/short", {"delete_version_after": "30m"})
    await kv.call(Op.UPDATE, "metadata/long", {"delete_version_after": "5h"})
    assert (await kv.write("short", {"v": 1}))["deletion_time"] == "2030-01-01T12:30:00Z"
    assert (await kv.write("long", {"v": 1}))["deletion_time"] == "2030-01-01T14:00:00Z"
    assert (await kv.write("plain", {"v": 1}))["deletion_time"] == "2030-01-01T14:00:00Z"


async def test_a_negative_config_disables_delete_version_after_everywhere(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "metadata/k", {"delete_version_after": "1m"})
    assert (await kv.write("k", {"v": 1}))["deletion_time"] == "2030-01-01T12:01:00Z"
    await kv.call(Op.UPDATE, "config", {"delete_version_after": "-1s"})
    assert (await kv.call(Op.READ, "config")).data == {
        "max_versions": 0,
        "cas_required": False,
        "delete_version_after": "-1s",
    }
    assert (await kv.write("k", {"v": 2}))["deletion_time"] == ""
    kv.engine.clock.advance(3600)
    assert await kv.secret("k") == {"v": 2}
    # 0 clears the setting: the key's own minute applies again.
    await kv.call(Op.UPDATE, "config", {"delete_version_after": 0})
    assert (await kv.write("k", {"v": 3}))["deletion_time"] == "2030-01-01T13:01:00Z"


async def test_an_explicit_delete_overrides_a_scheduled_one(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"delete_version_after": "1h"})
    await kv.write("k", {"v": 1})
    kv.engine.clock.advance(60)
    await kv.call(Op.DELETE, "data/k")
    assert (await versions(kv))["1"]["deletion_time"] == "2030-01-01T12:01:00Z"
    assert (await kv.read("k")).status == 404
