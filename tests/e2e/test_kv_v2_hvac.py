"""KV version 2 through the real hvac client against a running daemon (issue 5's "done when"): every
client.secrets.kv.v2 call hvac has, the soft-deleted 404 that still carries metadata, check-and-set
errors, JSON merge patch and subkeys over HTTP, the upgrade of a v1 mount, and kv v1 alongside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest
from hvac.exceptions import InvalidPath, InvalidRequest

from tests.e2e.conftest import shamir_config
from tests.e2e.daemon import Daemon

MOUNT = "kv2"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("kv2")
    daemon = Daemon(workdir=workdir, config=shamir_config(workdir)).start()
    init = daemon.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    daemon.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    root = hvac.Client(url=daemon.address, token=init["root_token"])
    root.sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
    yield daemon, init["root_token"]
    daemon.kill()


@pytest.fixture
def root(daemon: tuple[Daemon, str]) -> hvac.Client:
    server, token = daemon
    return hvac.Client(url=server.address, token=token)


def test_the_mount_is_versioned(root: hvac.Client) -> None:
    mounts = root.sys.list_mounted_secrets_engines()["data"]
    assert mounts[f"{MOUNT}/"]["type"] == "kv" and mounts[f"{MOUNT}/"]["options"] == {"version": "2"}


def test_configure_and_read_configuration(root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    v2.configure(max_versions=20, cas_required=False, delete_version_after="0s", mount_point=MOUNT)
    assert v2.read_configuration(mount_point=MOUNT)["data"] == {
        "max_versions": 20,
        "cas_required": False,
        "delete_version_after": "0s",
    }
    v2.configure(max_versions=0, mount_point=MOUNT)


def test_write_read_versions_and_cas(root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    first = v2.create_or_update_secret(path="app/db", secret={"user": "a"}, mount_point=MOUNT)
    assert first["data"]["version"] == 1 and first["data"]["deletion_time"] == ""
    v2.create_or_update_secret(path="app/db", secret={"user": "b"}, cas=1, mount_point=MOUNT)
    latest = v2.read_secret_version(path="app/db", mount_point=MOUNT, raise_on_deleted_version=True)
    assert latest["data"]["data"] == {"user": "b"} and latest["data"]["metadata"]["version"] == 2
    assert latest["lease_duration"] == 0 and latest["mount_type"] == "kv"
    old = v2.read_secret_version(path="app/db", version=1, mount_point=MOUNT, raise_on_deleted_version=True)
    assert old["data"]["data"] == {"user": "a"}
    with pytest.raises(InvalidRequest) as mismatch:
        v2.create_or_update_secret(path="app/db", secret={"user": "c"}, cas=1, mount_point=MOUNT)
    assert mismatch.value.errors == ["check-and-set parameter did not match the current version"]
    with pytest.raises(InvalidPath):
        v2.read_secret_version(path="app/db", version=9, mount_point=MOUNT, raise_on_deleted_version=True)


def test_cas_required_by_metadata(root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    v2.update_metadata(path="guarded", cas_required=True, mount_point=MOUNT)
    with pytest.raises(InvalidRequest) as missing:
        v2.create_or_update_secret(path="guarded", secret={"v": 1}, mount_point=MOUNT)
    assert missing.value.errors == ["check-and-set parameter required for this call"]
    v2.create_or_update_secret(path="guarded", secret={"v": 1}, cas=0, mount_point=MOUNT)
    # hvac's patch reads, merges and writes back with cas set to the version it read.
    v2.patch(path="guarded", secret={"w": 2}, mount_point=MOUNT)
    read = v2.read_secret_version(path="guarded", mount_point=MOUNT, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"v": 1, "w": 2} and read["data"]["metadata"]["version"] == 2


def test_merge_patch_over_http(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    v2.create_or_update_secret(path="patched", secret={"a": 1, "b": {"c": 2, "d": 3}}, mount_point=MOUNT)
    response = root.adapter.request(
        "PATCH",
        f"/v1/{MOUNT}/data/patched",
        json={"data": {"a": None, "b": {"d": 4}}, "options": {"cas": 1}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response["data"]["version"] == 2
    read = v2.read_secret_version(path="patched", mount_point=MOUNT, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"b": {"c": 2, "d": 4}}
    server, token = daemon
    status, body = server.call(
        "PATCH", f"{MOUNT}/data/absent", {"data": {"a": 1}}, token=token,
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    assert (status, body) == (404, {"errors": []})


def test_soft_delete_reads_as_404_with_metadata(daemon: tuple[Daemon, str], root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    v2.create_or_update_secret(path="gone", secret={"v": 1}, mount_point=MOUNT)
    v2.delete_latest_version_of_secret(path="gone", mount_point=MOUNT)
    with pytest.raises(InvalidPath):
        v2.read_secret_version(path="gone", mount_point=MOUNT, raise_on_deleted_version=True)
    # hvac hands back the 404's body when asked not to raise: Vault's envelope, data null.
    deleted = v2.read_secret_version(path="gone", mount_point=MOUNT, raise_on_deleted_version=False)
    assert deleted["data"]["data"] is None and deleted["data"]["metadata"]["deletion_time"] != ""
    server, token = daemon
    status, body = server.call("GET", f"{MOUNT}/data/gone", token=token)
    assert status == 404 and body["data"]["metadata"]["version"] == 1 and "request_id" in body
    v2.undelete_secret_versions(path="gone", versions=[1], mount_point=MOUNT)
    read = v2.read_secret_version(path="gone", mount_point=MOUNT, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"v": 1}


def test_delete_undelete_destroy_versions(root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    for n in (1, 2, 3):
        v2.create_or_update_secret(path="life", secret={"n": n}, mount_point=MOUNT)
    v2.delete_secret_versions(path="life", versions=[1, 2], mount_point=MOUNT)
    versions = v2.read_secret_metadata(path="life", mount_point=MOUNT)["data"]["versions"]
    assert versions["1"]["deletion_time"] and versions["2"]["deletion_time"] and not versions["3"]["deletion_time"]
    v2.undelete_secret_versions(path="life", versions=[2], mount_point=MOUNT)
    v2.destroy_secret_versions(path="life", versions=[1], mount_point=MOUNT)
    versions = v2.read_secret_metadata(path="life", mount_point=MOUNT)["data"]["versions"]
    assert versions["1"]["destroyed"] is True and versions["2"]["deletion_time"] == ""
    destroyed = v2.read_secret_version(path="life", version=1, mount_point=MOUNT, raise_on_deleted_version=False)
    assert destroyed["data"]["metadata"]["destroyed"] is True
    with pytest.raises(InvalidRequest) as empty:
        root.adapter.post(f"/v1/{MOUNT}/destroy/life", json={"versions": []})
    assert empty.value.errors == ["no version number provided"]


def test_metadata_list_update_and_delete(root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    for path in ("tree/a", "tree/b/c"):
        v2.create_or_update_secret(path=path, secret={"v": 1}, mount_point=MOUNT)
    assert v2.list_secrets(path="tree", mount_point=MOUNT)["data"]["keys"] == ["a", "b/"]
    v2.update_metadata(
        path="tree/a", max_versions=3, custom_metadata={"owner": "jdoe"}, delete_version_after="1h", mount_point=MOUNT
    )
    meta = v2.read_secret_metadata(path="tree/a", mount_point=MOUNT)["data"]
    assert (meta["max_versions"], meta["delete_version_after"]) == (3, "1h0m0s")
    assert meta["custom_metadata"] == {"owner": "jdoe"} and meta["current_version"] == 1
    written = v2.create_or_update_secret(path="tree/a", secret={"v": 2}, mount_point=MOUNT)
    assert written["data"]["custom_metadata"] == {"owner": "jdoe"} and written["data"]["deletion_time"] != ""
    v2.delete_metadata_and_all_versions(path="tree/a", mount_point=MOUNT)
    with pytest.raises(InvalidPath):
        v2.read_secret_metadata(path="tree/a", mount_point=MOUNT)
    assert v2.list_secrets(path="tree", mount_point=MOUNT)["data"]["keys"] == ["b/"]


def test_pruning_past_max_versions(root: hvac.Client) -> None:
    v2 = root.secrets.kv.v2
    v2.update_metadata(path="pruned", max_versions=2, mount_point=MOUNT)
    for n in range(1, 5):
        v2.create_or_update_secret(path="pruned", secret={"n": n}, mount_point=MOUNT)
    meta = v2.read_secret_metadata(path="pruned", mount_point=MOUNT)["data"]
    assert sorted(meta["versions"]) == ["3", "4"] and meta["oldest_version"] == 3
    with pytest.raises(InvalidPath):
        v2.read_secret_version(path="pruned", version=1, mount_point=MOUNT, raise_on_deleted_version=True)


def test_subkeys(root: hvac.Client) -> None:
    root.secrets.kv.v2.create_or_update_secret(path="shape", secret={"a": 1, "b": {"c": "x"}}, mount_point=MOUNT)
    full = root.adapter.get(f"/v1/{MOUNT}/subkeys/shape")["data"]
    assert full["subkeys"] == {"a": None, "b": {"c": None}} and full["metadata"]["version"] == 1
    shallow = root.adapter.get(f"/v1/{MOUNT}/subkeys/shape", params={"depth": 1})["data"]
    assert shallow["subkeys"] == {"a": None, "b": None}


def test_v1_paths_on_a_v2_mount_get_vaults_hint(daemon: tuple[Daemon, str]) -> None:
    server, token = daemon
    status, body = server.call("GET", f"{MOUNT}/app/db", token=token)
    assert status == 404 and "use 'vault kv get'" in body["warnings"][0]


def test_upgrading_a_v1_mount_keeps_its_data(root: hvac.Client) -> None:
    root.sys.enable_secrets_engine("kv", path="legacy", options={"version": "1"})
    root.secrets.kv.v1.create_or_update_secret(path="app/config", secret={"db": "legacy-db"}, mount_point="legacy")
    root.secrets.kv.v1.create_or_update_secret(path="other", secret={"n": 1}, mount_point="legacy")
    tuned = root.sys.tune_mount_configuration(path="legacy", options={"version": "2"})
    assert "Upgrading mount from version 1 to version 2" in tuned["warnings"][0]
    v2 = root.secrets.kv.v2
    read = v2.read_secret_version(path="app/config", mount_point="legacy", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"db": "legacy-db"} and read["data"]["metadata"]["version"] == 1
    assert v2.list_secrets(path="", mount_point="legacy")["data"]["keys"] == ["app/", "other"]
    v2.create_or_update_secret(path="other", secret={"n": 2}, cas=1, mount_point="legacy")
    assert v2.read_secret_metadata(path="other", mount_point="legacy")["data"]["current_version"] == 2


def test_kv_v1_still_works_beside_v2(root: hvac.Client) -> None:
    v1 = root.secrets.kv.v1
    v1.create_or_update_secret(path="plain", secret={"k": "v"})
    assert v1.read_secret(path="plain")["data"] == {"k": "v"}
    assert "plain" in v1.list_secrets(path="")["data"]["keys"]
    v1.delete_secret(path="plain")
    with pytest.raises(InvalidPath):
        v1.read_secret(path="plain")
