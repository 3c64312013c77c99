"""KV v2's data/ and subkeys/ paths through Core.handle (Vault's api-docs secret/kv/kv-v2): versioned
writes and reads, check-and-set, JSON merge patch, soft delete of the latest version, and the 404 that
still carries a deleted version's metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.errors import BadRequest, EngineError, UnsupportedOperation
from engine.request import Op
from tests.engine.kv_v2_harness import Kv, close_kv, make_kv

CAS_MISMATCH = "check-and-set parameter did not match the current version"
CAS_REQUIRED = "check-and-set parameter required for this call"


@pytest.fixture
async def kv(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kv]:
    kv = await make_kv(monkeypatch)
    yield kv
    await close_kv(kv)


# --- write and read ------------------------------------------------------------------------------------


async def test_values_beyond_64_bit_integers_and_exact_times_survive_a_restart(kv: Kv) -> None:
    # Records are written by orjson, and by the standard library for what orjson refuses.
    kv.engine.clock.advance(0.123456)
    secret = {"big": 2**70, "nested": {"neg": -(2**65)}, "small": 1, "text": "\u00e9\u2028"}
    await kv.write("app/big", secret)
    await kv.write("app/small", {"n": 1})
    await kv.restart()
    assert await kv.secret("app/big") == secret
    metadata = await kv.metadata("app/small")
    assert metadata["created_time"] == "2030-01-01T12:00:00.123456Z"
    assert metadata["versions"]["1"]["created_time"] == "2030-01-01T12:00:00.123456Z"


async def test_each_write_is_a_new_version_and_answers_with_its_metadata(kv: Kv) -> None:
    first = await kv.write("app/db", {"user": "a", "port": 5432})
    assert first == {
        "version": 1,
        "created_time": "2030-01-01T12:00:00Z",
        "deletion_time": "",
        "destroyed": False,
        "custom_metadata": None,
    }
    kv.engine.clock.advance(1.5)
    second = await kv.write("app/db", {"user": "b"})
    assert second["version"] == 2 and second["created_time"] == "2030-01-01T12:00:01.5Z"
    latest = await kv.read("app/db")
    assert latest.data == {
        "data": {"user": "b"},
        "metadata": {
            "version": 2,
            "created_time": "2030-01-01T12:00:01.5Z",
            "deletion_time": "",
            "destroyed": False,
            "custom_metadata": None,
        },
    }
    # KV v2 issues no lease, unlike v1's "ttl" hint.
    assert (latest.lease_id, latest.lease_duration, latest.renewable) == ("", 0, False)
    assert await kv.secret("app/db", version=1) == {"user": "a", "port": 5432}
    assert await kv.secret("app/db", version=0) == {"user": "b"}  # 0 means the latest


async def test_a_missing_key_or_version_is_a_plain_404(kv: Kv) -> None:
    await kv.missing(Op.READ, "data/nothing")
    await kv.write("one", {"a": 1})
    await kv.missing(Op.READ, "data/one", {"version": "2"})
    await kv.missing(Op.READ, "subkeys/one", {"version": "7"})


async def test_write_needs_data_and_takes_any_json_inside_it(kv: Kv) -> None:
    error = await kv.error(Op.UPDATE, "data/x", {"options": {}})
    assert isinstance(error, BadRequest) and error.message == "no data provided"
    error = await kv.error(Op.UPDATE, "data/x", {"data": "not a map"})
    assert isinstance(error, BadRequest) and "field 'data'" in error.message
    nested: dict[str, Any] = {"list": [1, "two", None], "map": {"deep": {"er": True}}, "empty": {}}
    await kv.write("x", nested)
    assert await kv.secret("x") == nested


async def test_unknown_body_keys_are_ignored_with_vaults_warning(kv: Kv) -> None:
    response = await kv.call(Op.UPDATE, "data/w", {"data": {"a": 1}, "extra": 1})
    assert response.warnings == ["Endpoint ignored these unrecognized parameters: [extra]"]


async def test_writes_are_create_or_update_for_the_acl(kv: Kv) -> None:
    await kv.engine.policy("creator", 'path "kv/data/*" { capabilities = ["create", "read"] }')
    token = await kv.engine.token(policies=["creator"])
    await kv.call(Op.UPDATE, "data/new", {"data": {"v": 1}}, token=token)
    error = await kv.error(Op.UPDATE, "data/new", {"data": {"v": 2}}, token=token)
    assert error.status == 403  # the key exists now: an update, which the policy does not grant
    assert await kv.secret("new") == {"v": 1}


# --- check-and-set -----------------------------------------------------------------------------------


async def test_cas_zero_only_creates(kv: Kv) -> None:
    await kv.write("c", {"v": 1}, cas=0)
    error = await kv.error(Op.UPDATE, "data/c", {"data": {"v": 2}, "options": {"cas": 0}})
    assert isinstance(error, BadRequest) and error.message == CAS_MISMATCH
    assert await kv.secret("c") == {"v": 1}


async def test_cas_must_name_the_current_version(kv: Kv) -> None:
    await kv.write("c", {"v": 1})
    await kv.write("c", {"v": 2}, cas=1)
    for stale in (1, 3, "1"):
        error = await kv.error(Op.UPDATE, "data/c", {"data": {"v": 9}, "options": {"cas": stale}})
        assert isinstance(error, BadRequest) and error.message == CAS_MISMATCH
    # Weakly typed, as Vault's mapstructure: "2" is 2.
    assert (await kv.write("c", {"v": 3}, cas="2"))["version"] == 3
    error = await kv.error(Op.UPDATE, "data/c", {"data": {"v": 9}, "options": {"cas": "three"}})
    assert isinstance(error, BadRequest) and error.message == "error parsing check-and-set parameter"
    assert (await kv.metadata("c"))["current_version"] == 3


async def test_cas_required_by_the_mount_config(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"cas_required": True})
    error = await kv.error(Op.UPDATE, "data/r", {"data": {"v": 1}})
    assert isinstance(error, BadRequest) and error.message == CAS_REQUIRED
    await kv.missing(Op.READ, "data/r")
    await kv.write("r", {"v": 1}, cas=0)
    error = await kv.error(Op.UPDATE, "data/r", {"data": {"v": 2}, "options": {}})
    assert isinstance(error, BadRequest) and error.message == CAS_REQUIRED


async def test_cas_required_by_the_key_metadata_only_binds_that_key(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "metadata/strict", {"cas_required": True})
    error = await kv.error(Op.UPDATE, "data/strict", {"data": {"v": 1}})
    assert isinstance(error, BadRequest) and error.message == CAS_REQUIRED
    await kv.write("strict", {"v": 1}, cas=0)
    await kv.write("lax", {"v": 1})
    await kv.write("lax", {"v": 2})
    assert (await kv.metadata("lax"))["current_version"] == 2


# --- patch -------------------------------------------------------------------------------------------


async def test_patch_is_a_json_merge_patch_into_a_new_version(kv: Kv) -> None:
    await kv.write("p", {"keep": 1, "drop": 2, "map": {"a": 1, "b": 2}, "replace": {"x": 1}})
    response = await kv.call(
        Op.PATCH, "data/p", {"data": {"drop": None, "map": {"b": None, "c": 3}, "replace": [1], "new": "n"}}
    )
    assert response.data is not None and response.data["version"] == 2
    assert set(response.data) == {"version", "created_time", "deletion_time", "destroyed", "custom_metadata"}
    assert await kv.secret("p") == {"keep": 1, "map": {"a": 1, "c": 3}, "replace": [1], "new": "n"}
    assert await kv.secret("p", version=1) == {"keep": 1, "drop": 2, "map": {"a": 1, "b": 2}, "replace": {"x": 1}}


async def test_patch_needs_the_patch_capability(kv: Kv) -> None:
    await kv.write("p", {"a": 1})
    await kv.engine.policy("writer", 'path "kv/data/*" { capabilities = ["create", "update", "read"] }')
    await kv.engine.policy("patcher", 'path "kv/data/*" { capabilities = ["patch", "read"] }')
    writer, patcher = await kv.engine.token(policies=["writer"]), await kv.engine.token(policies=["patcher"])
    error = await kv.error(Op.PATCH, "data/p", {"data": {"a": 2}}, token=writer)
    assert error.status == 403
    await kv.call(Op.PATCH, "data/p", {"data": {"a": 3}}, token=patcher)
    assert await kv.secret("p") == {"a": 3}


async def test_patch_checks_cas_like_a_write(kv: Kv) -> None:
    await kv.write("p", {"a": 1})
    error = await kv.error(Op.PATCH, "data/p", {"data": {"a": 2}, "options": {"cas": 0}})
    assert isinstance(error, BadRequest) and error.message == CAS_MISMATCH
    await kv.call(Op.PATCH, "data/p", {"data": {"a": 2}, "options": {"cas": 1}})
    await kv.call(Op.UPDATE, "config", {"cas_required": True})
    error = await kv.error(Op.PATCH, "data/p", {"data": {"a": 3}})
    assert isinstance(error, BadRequest) and error.message == CAS_REQUIRED
    assert await kv.secret("p") == {"a": 2}


async def test_patch_needs_an_existing_live_secret_and_data(kv: Kv) -> None:
    await kv.missing(Op.PATCH, "data/absent", {"data": {"a": 1}})
    await kv.write("p", {"a": 1})
    error = await kv.error(Op.PATCH, "data/p", {"options": {"cas": 1}})
    assert isinstance(error, BadRequest) and error.message == "no data provided"
    await kv.call(Op.DELETE, "data/p")
    deleted = await kv.call(Op.PATCH, "data/p", {"data": {"a": 2}})
    assert deleted.status == 404 and deleted.data is not None
    assert deleted.data["version"] == 1 and deleted.data["deletion_time"] == "2030-01-01T12:00:00Z"
    assert (await kv.metadata("p"))["current_version"] == 1


# --- soft delete of the latest version ---------------------------------------------------------------


async def test_delete_marks_the_latest_version_and_it_reads_as_404_with_metadata(kv: Kv) -> None:
    await kv.write("d", {"v": 1})
    await kv.write("d", {"v": 2})
    kv.engine.clock.advance(10)
    assert (await kv.call(Op.DELETE, "data/d")).data is None
    deleted = await kv.read("d")
    assert deleted.status == 404
    assert deleted.data == {
        "data": None,
        "metadata": {
            "version": 2,
            "created_time": "2030-01-01T12:00:00Z",
            "deletion_time": "2030-01-01T12:00:10Z",
            "destroyed": False,
            "custom_metadata": None,
        },
    }
    # Only the latest version went; the data itself is kept (undelete brings it back).
    assert await kv.secret("d", version=1) == {"v": 1}
    kv.engine.clock.advance(10)
    await kv.call(Op.DELETE, "data/d")  # already deleted: the deletion time stays
    assert (await kv.metadata("d"))["versions"]["2"]["deletion_time"] == "2030-01-01T12:00:10Z"
    await kv.call(Op.DELETE, "data/never-written")  # no key: nothing to do, no error


async def test_a_write_after_a_delete_is_readable_again(kv: Kv) -> None:
    await kv.write("d", {"v": 1})
    await kv.call(Op.DELETE, "data/d")
    await kv.write("d", {"v": 2})
    assert await kv.secret("d") == {"v": 2}


async def test_data_paths_do_not_list_and_point_at_metadata(kv: Kv) -> None:
    await kv.write("f/x", {"v": 1})
    response = await kv.call(Op.LIST, "data/f")
    assert response.status == 404 and response.data is None
    assert response.warnings == [
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to "
        "use. If using the Vault CLI, use 'vault kv list' for this operation."
    ]
    error = await kv.error(Op.DELETE, "config")
    assert isinstance(error, UnsupportedOperation)


# --- subkeys -----------------------------------------------------------------------------------------


async def test_subkeys_show_the_structure_without_values(kv: Kv) -> None:
    await kv.write("s", {"foo": "abc", "bar": {"baz": "def", "deep": {"er": 1}}, "quux": {}, "list": [1]})
    response = await kv.call(Op.READ, "subkeys/s")
    assert response.data == {
        "subkeys": {"foo": None, "bar": {"baz": None, "deep": {"er": None}}, "quux": None, "list": None},
        "metadata": {
            "version": 1,
            "created_time": "2030-01-01T12:00:00Z",
            "deletion_time": "",
            "destroyed": False,
            "custom_metadata": None,
        },
    }


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        ("1", {"a": None, "b": None}),
        ("2", {"a": None, "b": {"c": None}}),
        ("3", {"a": None, "b": {"c": {"d": None}}}),
        ("0", {"a": None, "b": {"c": {"d": None}}}),
    ],
)
async def test_subkeys_depth_cuts_the_tree(kv: Kv, depth: str, expected: dict[str, Any]) -> None:
    await kv.write("s", {"a": 1, "b": {"c": {"d": "secret"}}})
    response = await kv.call(Op.READ, "subkeys/s", {"depth": depth})
    assert response.data is not None and response.data["subkeys"] == expected


async def test_subkeys_of_a_version_and_of_a_deleted_one(kv: Kv) -> None:
    await kv.write("s", {"old": 1})
    await kv.write("s", {"new": 1})
    first = await kv.call(Op.READ, "subkeys/s", {"version": "1"})
    assert first.data is not None and first.data["subkeys"] == {"old": None}
    await kv.call(Op.DELETE, "data/s")
    deleted = await kv.call(Op.READ, "subkeys/s")
    assert deleted.status == 404 and deleted.data is not None
    assert deleted.data["subkeys"] is None and deleted.data["metadata"]["version"] == 2


async def test_no_body_or_stored_value_leaks_through_a_404(kv: Kv) -> None:
    await kv.write("leak", {"password": "hunter2"})
    await kv.call(Op.DELETE, "data/leak")
    for path in ("data/leak", "subkeys/leak"):
        response = await kv.call(Op.READ, path)
        assert response.status == 404 and "hunter2" not in repr(response.data)


async def test_an_error_is_an_engine_error_not_a_crash(kv: Kv) -> None:
    error = await kv.error(Op.READ, "data/x", {"version": "latest"})
    assert isinstance(error, EngineError) and error.status == 400
