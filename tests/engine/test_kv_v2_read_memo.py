"""KV v2 reads reuse the parse of unchanged metadata (metadata_memo.py): every way a key's metadata
changes shows on the very next read, and nothing a reader gets back is shared with the next one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from engine.backends.kv_v2.metadata_memo import MetadataMemo
from engine.backends.kv_v2.records import KeyMetadata
from engine.backends.kv_v2.store import encode_record
from engine.request import Op
from tests.engine.kv_v2_harness import Kv, close_kv, make_kv

NOT_FOUND = 404


@pytest.fixture
async def kv(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kv]:
    kv = await make_kv(monkeypatch)
    yield kv
    await close_kv(kv)


async def _warm(kv: Kv, key: str) -> None:
    """Two reads: the second is served from the memo."""
    await kv.read(key)
    await kv.read(key)


async def test_a_new_version_is_read_right_after_its_write(kv: Kv) -> None:
    await kv.write("app", {"v": "1"})
    await _warm(kv, "app")
    await kv.write("app", {"v": "2"})
    response = await kv.read("app")
    assert response.data is not None
    assert response.data["data"] == {"v": "2"} and response.data["metadata"]["version"] == 2


async def test_delete_undelete_and_destroy_show_on_the_next_read(kv: Kv) -> None:
    await kv.write("app", {"v": "1"})
    await _warm(kv, "app")
    await kv.call(Op.DELETE, "data/app")
    deleted = await kv.read("app")
    assert deleted.status == NOT_FOUND and deleted.data is not None
    assert deleted.data["metadata"]["deletion_time"] != ""
    await kv.call(Op.UPDATE, "undelete/app", {"versions": [1]})
    assert await kv.secret("app") == {"v": "1"}
    await kv.call(Op.UPDATE, "destroy/app", {"versions": [1]})
    destroyed = await kv.read("app")
    assert destroyed.status == NOT_FOUND and destroyed.data is not None
    assert destroyed.data["metadata"]["destroyed"] is True


async def test_metadata_edits_and_deletion_show_on_the_next_read(kv: Kv) -> None:
    await kv.write("app", {"v": "1"})
    await _warm(kv, "app")
    await kv.call(Op.UPDATE, "metadata/app", {"custom_metadata": {"owner": "ops"}})
    response = await kv.read("app")
    assert response.data is not None and response.data["metadata"]["custom_metadata"] == {"owner": "ops"}
    await kv.call(Op.DELETE, "metadata/app")
    await kv.missing(Op.READ, "data/app")


async def test_what_a_reader_gets_is_its_own(kv: Kv) -> None:
    await kv.write("app", {"v": "1"})
    await kv.call(Op.UPDATE, "metadata/app", {"custom_metadata": {"owner": "ops"}})
    first = await kv.read("app")
    assert first.data is not None
    first.data["metadata"]["custom_metadata"]["owner"] = "mallory"
    first.data["metadata"]["version"] = 99
    again = await kv.read("app")
    assert again.data is not None
    assert again.data["metadata"]["custom_metadata"] == {"owner": "ops"} and again.data["metadata"]["version"] == 1


def _stored(meta: KeyMetadata) -> bytes:
    return encode_record(meta.to_json())


def test_a_parse_is_reused_only_for_equal_bytes_and_the_memo_is_bounded() -> None:
    memo = MetadataMemo(capacity=2)
    meta = KeyMetadata("app")
    meta.add_version(datetime(2030, 1, 1, tzinfo=UTC), None, 0)
    first = memo.shared("m/app", _stored(meta))
    assert memo.shared("m/app", bytes(bytearray(_stored(meta)))) is first  # equal content, another object
    meta.add_version(datetime(2030, 1, 2, tzinfo=UTC), None, 0)
    assert memo.shared("m/app", _stored(meta)).current_version == 2
    for name in ("a", "b", "c"):
        memo.shared(f"m/{name}", _stored(KeyMetadata(name)))
    assert len(memo) == 2


async def test_a_write_builds_on_every_change_made_since_the_last_write(kv: Kv) -> None:
    # Each data write leaves the metadata it wrote in the memo: the next write reuses it only while the
    # stored bytes are the ones it wrote, never past a metadata update, a delete or a destroy.
    await kv.write("app", {"v": "1"})
    await kv.write("app", {"v": "2"})
    await kv.call(Op.UPDATE, "metadata/app", {"custom_metadata": {"owner": "ops"}, "max_versions": 3})
    await kv.call(Op.UPDATE, "delete/app", {"versions": [1]})
    await kv.call(Op.UPDATE, "destroy/app", {"versions": [2]})
    await kv.write("app", {"v": "3"})
    await kv.write("app", {"v": "4"})
    meta = await kv.metadata("app")
    assert meta["custom_metadata"] == {"owner": "ops"} and meta["current_version"] == 4
    assert sorted(meta["versions"]) == ["2", "3", "4"]  # max_versions 3 took effect on the writes
    assert meta["versions"]["2"]["destroyed"] is True
    await kv.call(Op.DELETE, "metadata/app")
    written = await kv.write("app", {"v": "again"})
    assert written["version"] == 1  # the memo of the deleted key was not built on


def test_a_copy_of_metadata_shares_nothing_that_can_change() -> None:
    meta = KeyMetadata("app", custom_metadata={"owner": "ops"})
    meta.add_version(datetime(2030, 1, 1, tzinfo=UTC), None, 0)
    copy = meta.copy()
    assert copy == meta
    copy.add_version(datetime(2030, 1, 2, tzinfo=UTC), None, 0)
    copy.versions[1].destroyed = True
    copy.custom_metadata["owner"] = "mallory"
    assert meta.current_version == 1 and not meta.versions[1].destroyed and meta.custom_metadata == {"owner": "ops"}
