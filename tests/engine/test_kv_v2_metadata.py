"""KV v2's metadata/ and config paths, the mount types that make a v2 mount, and the answers for paths
a v2 mount does not serve, through Core.handle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.errors import BadRequest
from engine.request import Op
from tests.engine.kv_v2_harness import Kv, close_kv, make_kv

CAS_MANDATED = '"cas_required" set to false, but is mandated by backend config. This value will be ignored.'


@pytest.fixture
async def kv(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kv]:
    kv = await make_kv(monkeypatch)
    yield kv
    await close_kv(kv)


# --- read / write ------------------------------------------------------------------------------------


async def test_metadata_read_shows_every_version_and_the_settings(kv: Kv) -> None:
    await kv.write("app", {"v": 1})
    kv.engine.clock.advance(60)
    await kv.write("app", {"v": 2})
    assert await kv.metadata("app") == {
        "versions": {
            "1": {"created_time": "2030-01-01T12:00:00Z", "deletion_time": "", "destroyed": False},
            "2": {"created_time": "2030-01-01T12:01:00Z", "deletion_time": "", "destroyed": False},
        },
        "current_version": 2,
        "oldest_version": 0,
        "created_time": "2030-01-01T12:00:00Z",
        "updated_time": "2030-01-01T12:01:00Z",
        "max_versions": 0,
        "cas_required": False,
        "delete_version_after": "0s",
        "custom_metadata": None,
    }
    await kv.missing(Op.READ, "metadata/other")


async def test_metadata_write_sets_only_what_it_is_given(kv: Kv) -> None:
    await kv.write("app", {"v": 1})
    assert (
        await kv.call(Op.UPDATE, "metadata/app", {"max_versions": 5, "delete_version_after": "3h25m19s"})
    ).data is None
    await kv.call(Op.UPDATE, "metadata/app", {"cas_required": True, "custom_metadata": {"owner": "jdoe", "n": 7}})
    meta = await kv.metadata("app")
    assert (meta["max_versions"], meta["cas_required"], meta["delete_version_after"]) == (5, True, "3h25m19s")
    assert meta["custom_metadata"] == {"owner": "jdoe", "n": "7"}
    assert meta["updated_time"] == "2030-01-01T12:00:00Z"  # settings are not a new version
    # custom_metadata is key metadata: every version's read carries it.
    assert (await kv.read("app")).data["metadata"]["custom_metadata"] == {"owner": "jdoe", "n": "7"}  # type: ignore[index]
    # A write replaces custom_metadata as a whole.
    await kv.call(Op.UPDATE, "metadata/app", {"custom_metadata": {"team": "x"}})
    assert (await kv.metadata("app"))["custom_metadata"] == {"team": "x"}


async def test_metadata_write_before_any_version_creates_the_key(kv: Kv) -> None:
    kv.engine.clock.advance(30)
    await kv.call(Op.UPDATE, "metadata/future", {"max_versions": 3})
    meta = await kv.metadata("future")
    assert meta["versions"] == {} and meta["current_version"] == 0 and meta["max_versions"] == 3
    assert meta["created_time"] == meta["updated_time"] == "2030-01-01T12:00:30Z"
    await kv.missing(Op.READ, "data/future")
    # An empty write changes nothing and creates nothing.
    await kv.call(Op.UPDATE, "metadata/nothing", {})
    await kv.missing(Op.READ, "metadata/nothing")


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ({"k": ""}, 'length of value for key "k" is 0 but must be 0 < len(value) <= 512'),
        ({"k": None}, 'length of value for key "k" is 0 but must be 0 < len(value) <= 512'),
        ({"k" * 129: "v"}, f'length of key "{"k" * 129}" is 129 but must be 0 < len(key) <= 128'),
        ({"k": "v" * 513}, 'length of value for key "k" is 513 but must be 0 < len(value) <= 512'),
        ({"k": "a\x00b"}, 'value for key "k" contains unprintable characters'),
        ({f"k{i}": "v" for i in range(65)}, "payload must contain at most 64 keys, provided 65"),
        ({"k": {"nested": 1}}, "expected type 'string', got unconvertible type 'map[string]interface {}'"),
    ],
)
async def test_custom_metadata_is_validated_like_vault(kv: Kv, custom: dict[str, object], message: str) -> None:
    await kv.write("app", {"v": 1})
    error = await kv.error(Op.UPDATE, "metadata/app", {"custom_metadata": custom})
    assert isinstance(error, BadRequest) and message in error.message
    assert error.message.startswith("custom_metadata validation failed") or error.message.startswith("1 error")
    assert (await kv.metadata("app"))["custom_metadata"] is None


async def test_every_custom_metadata_problem_is_reported_at_once(kv: Kv) -> None:
    error = await kv.error(Op.UPDATE, "metadata/app", {"custom_metadata": {"a": "", "b": ""}})
    assert isinstance(error, BadRequest)
    assert error.message == (
        "2 errors occurred:\n"
        '\t* custom_metadata validation failed: length of value for key "a" is 0 but must be 0 < len(value) <= 512\n'
        '\t* custom_metadata validation failed: length of value for key "b" is 0 but must be 0 < len(value) <= 512\n\n'
    )


async def test_cas_required_false_on_a_key_warns_when_the_mount_requires_it(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"cas_required": True})
    response = await kv.call(Op.UPDATE, "metadata/app", {"cas_required": False})
    assert response.warnings == [CAS_MANDATED]
    error = await kv.error(Op.UPDATE, "data/app", {"data": {"v": 1}})
    assert isinstance(error, BadRequest) and error.message == "check-and-set parameter required for this call"


async def test_metadata_writes_refuse_bad_input(kv: Kv) -> None:
    for body, field in (({"max_versions": "many"}, "max_versions"), ({"delete_version_after": "-1h"}, "delete")):
        error = await kv.error(Op.UPDATE, "metadata/app", body)
        assert isinstance(error, BadRequest) and field in error.message
    error = await kv.error(Op.UPDATE, "metadata/folder/", {"max_versions": 1})
    assert isinstance(error, BadRequest) and error.message == "cannot write to a path ending in '/'"


# --- patch -------------------------------------------------------------------------------------------


async def test_metadata_patch_merges_into_the_existing_settings(kv: Kv) -> None:
    await kv.write("app", {"v": 1})
    await kv.call(
        Op.UPDATE, "metadata/app", {"max_versions": 4, "cas_required": True, "custom_metadata": {"a": "1", "b": "2"}}
    )
    response = await kv.call(Op.PATCH, "metadata/app", {"max_versions": 6, "custom_metadata": {"a": None, "c": 3}})
    assert response.status == 204 and response.data is None
    meta = await kv.metadata("app")
    assert (meta["max_versions"], meta["cas_required"]) == (6, True)  # not given: kept
    assert meta["custom_metadata"] == {"b": "2", "c": "3"}
    await kv.call(Op.PATCH, "metadata/app", {"delete_version_after": "10m", "cas_required": False})
    meta = await kv.metadata("app")
    assert (meta["delete_version_after"], meta["cas_required"], meta["max_versions"]) == ("10m0s", False, 6)


async def test_metadata_patch_needs_an_existing_key_and_valid_input(kv: Kv) -> None:
    await kv.missing(Op.PATCH, "metadata/absent", {"max_versions": 1})
    await kv.write("app", {"v": 1})
    error = await kv.error(Op.PATCH, "metadata/app", {"custom_metadata": {"k": ""}})
    assert isinstance(error, BadRequest) and "length of value" in error.message
    await kv.call(Op.UPDATE, "config", {"cas_required": True})
    response = await kv.call(Op.PATCH, "metadata/app", {"cas_required": False})
    assert response.warnings == [CAS_MANDATED]


# --- delete and list ---------------------------------------------------------------------------------


async def test_metadata_delete_removes_the_key_and_every_version(kv: Kv) -> None:
    for n in (1, 2, 3):
        await kv.write("app/db", {"v": n})
    await kv.write("app/other", {"v": 1})
    assert (await kv.call(Op.DELETE, "metadata/app/db")).data is None
    await kv.missing(Op.READ, "metadata/app/db")
    await kv.missing(Op.READ, "data/app/db", {"version": "1"})
    assert (await kv.call(Op.LIST, "metadata/app")).data == {"keys": ["other"]}
    # Written again, it starts from version 1.
    assert (await kv.write("app/db", {"v": "again"}))["version"] == 1
    await kv.call(Op.DELETE, "metadata/never")  # nothing there: no error


async def test_list_shows_keys_and_folders_one_level_deep(kv: Kv) -> None:
    for key in ("foo", "foo/bar", "foo/baz/qux", "zed"):
        await kv.write(key, {"v": 1})
    assert (await kv.call(Op.LIST, "metadata/")).data == {"keys": ["foo", "foo/", "zed"]}
    assert (await kv.call(Op.LIST, "metadata")).data == {"keys": ["foo", "foo/", "zed"]}
    assert (await kv.call(Op.LIST, "metadata/foo")).data == {"keys": ["bar", "baz/"]}
    assert (await kv.call(Op.LIST, "metadata/foo/")).data == {"keys": ["bar", "baz/"]}
    await kv.missing(Op.LIST, "metadata/nothing")
    # A deleted (even destroyed) secret is still listed: its metadata remains.
    await kv.call(Op.UPDATE, "destroy/zed", {"versions": [1]})
    assert "zed" in (await kv.call(Op.LIST, "metadata/")).data["keys"]  # type: ignore[index]


# --- config ------------------------------------------------------------------------------------------


async def test_config_read_and_write(kv: Kv) -> None:
    assert (await kv.call(Op.READ, "config")).data == {
        "max_versions": 0,
        "cas_required": False,
        "delete_version_after": "0s",
    }
    await kv.call(Op.UPDATE, "config", {"max_versions": 5, "cas_required": True, "delete_version_after": "3h25m19s"})
    await kv.call(Op.UPDATE, "config", {"max_versions": 7})  # the others are kept
    assert (await kv.call(Op.READ, "config")).data == {
        "max_versions": 7,
        "cas_required": True,
        "delete_version_after": "3h25m19s",
    }
    for body in ({"max_versions": -1}, {"delete_version_after": "soon"}, {"cas_required": "maybe"}):
        error = await kv.error(Op.UPDATE, "config", body)
        assert isinstance(error, BadRequest)
    assert (await kv.call(Op.READ, "config")).data["max_versions"] == 7  # type: ignore[index]


async def test_config_survives_a_restart(kv: Kv) -> None:
    await kv.call(Op.UPDATE, "config", {"max_versions": 3, "delete_version_after": 90})
    await kv.write("k", {"v": 1})
    await kv.restart()
    assert (await kv.call(Op.READ, "config")).data == {
        "max_versions": 3,
        "cas_required": False,
        "delete_version_after": "1m30s",
    }
    assert await kv.secret("k") == {"v": 1}


# --- paths a v2 mount does not serve ------------------------------------------------------------------


@pytest.mark.parametrize("op", [Op.READ, Op.UPDATE, Op.DELETE])
@pytest.mark.parametrize("root", ["data", "metadata", "delete", "undelete", "destroy"])
async def test_the_roots_of_the_api_answer_404_with_a_hint(kv: Kv, op: Op, root: str) -> None:
    response = await kv.call(op, root, {"a": 1} if op is Op.UPDATE else None)
    assert response.status == 404
    assert response.warnings == ["Non-listing operations on the root of a K/V v2 mount are not supported."]


@pytest.mark.parametrize(("op", "verb"), [(Op.READ, "get"), (Op.UPDATE, "put"), (Op.DELETE, "delete")])
async def test_v1_style_paths_answer_404_with_the_cli_verb(kv: Kv, op: Op, verb: str) -> None:
    response = await kv.call(op, "app/db", {"a": 1} if op is Op.UPDATE else None)
    assert response.status == 404 and response.data is None
    assert response.warnings == [
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to "
        f"use. If using the Vault CLI, use 'vault kv {verb}' for this operation."
    ]
    await kv.missing(Op.READ, "metadata/app/db")  # nothing was written


# --- mounting ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"type": "kv-v2"}, {"type": "kv", "options": {"version": "2"}}])
async def test_both_mount_spellings_make_a_versioned_mount(monkeypatch: pytest.MonkeyPatch, body: dict) -> None:  # type: ignore[type-arg]
    kv = await make_kv(monkeypatch, body)
    try:
        mounts = (await kv.engine.call(Op.READ, "sys/mounts")).data
        assert mounts is not None
        assert (mounts["kv/"]["type"], mounts["kv/"]["options"]) == ("kv", {"version": "2"})
        assert (await kv.write("x", {"v": 1}))["version"] == 1
    finally:
        await close_kv(kv)


async def test_only_kv_takes_a_version_option(kv: Kv) -> None:
    error = await kv.engine.error(Op.UPDATE, "sys/mounts/other", {"type": "transit", "options": {"version": "2"}})
    assert (
        isinstance(error, BadRequest) and error.message == 'secrets engine "transit" does not allow setting a version'
    )


async def test_two_v2_mounts_are_independent(kv: Kv) -> None:
    await kv.engine.call(Op.UPDATE, "sys/mounts/second", {"type": "kv-v2"})
    await kv.write("k", {"where": "kv"})
    await kv.engine.call(Op.UPDATE, "second/data/k", {"data": {"where": "second"}})
    assert await kv.secret("k") == {"where": "kv"}
    second = (await kv.engine.call(Op.READ, "second/data/k")).data
    assert second is not None and second["data"] == {"where": "second"} and second["metadata"]["version"] == 1
