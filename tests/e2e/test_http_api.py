"""Vault's /v1 conventions on an unsealed daemon: envelope, status codes, verbs, tokens."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shamir_config


@pytest.fixture(scope="module")
def unsealed(tmp_path_factory):
    from tests.e2e.daemon import Daemon

    workdir = tmp_path_factory.mktemp("http-api")
    daemon = Daemon(workdir=workdir, config=shamir_config(workdir)).start()
    init = daemon.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    daemon.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    yield daemon, init["root_token"], init["keys"][0]
    daemon.kill()


def test_envelope_and_kv_v1(unsealed) -> None:
    daemon, token, _ = unsealed
    assert daemon.call("PUT", "secret/env/a", {"k": "v", "ttl": "1h"}, token=token)[0] == 204
    status, body = daemon.call("GET", "secret/env/a", token=token)
    assert status == 200
    assert set(body) >= {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info",
                         "warnings", "auth"}
    assert body["data"] == {"k": "v", "ttl": "1h"}
    assert body["mount_type"] == "kv"
    assert body["lease_duration"] == 3600
    assert daemon.call("GET", "secret/env/missing", token=token) == (404, {"errors": []})


def test_tokens_in_either_header_and_403_without(unsealed) -> None:
    daemon, token, _ = unsealed
    daemon.call("PUT", "secret/tok", {"a": "b"}, token=token)
    status, body = daemon.call("GET", "secret/tok")
    assert status == 403 and body["errors"]
    assert daemon.call("GET", "secret/tok", token="hvs.not-a-token")[0] == 403
    status, _ = daemon.call("GET", "secret/tok", headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    status, _ = daemon.call("GET", "secret/tok", token=token, headers={"X-Vault-Request": "true"})
    assert status == 200


def test_list_verb_and_query_flag(unsealed) -> None:
    daemon, token, _ = unsealed
    for name in ("x", "y", "dir/z"):
        daemon.call("POST", f"secret/listing/{name}", {"v": 1}, token=token)
    expected = ["dir/", "x", "y"]
    assert daemon.call("LIST", "secret/listing", token=token)[1]["data"]["keys"] == expected
    assert daemon.call("GET", "secret/listing/?list=true", token=token)[1]["data"]["keys"] == expected
    assert daemon.call("LIST", "secret/nothing-here", token=token) == (404, {"errors": []})


def test_unknown_route_and_unsupported_operation(unsealed) -> None:
    daemon, token, _ = unsealed
    status, body = daemon.call("GET", "nomount/x", token=token)
    assert status == 404 and "no handler for route" in body["errors"][0]
    status, body = daemon.call("PATCH", "secret/tok", {"a": "c"}, token=token)
    assert status == 405 and body["errors"]


def test_paths_no_route_takes_get_vaults_json_404(unsealed) -> None:
    from tests.e2e.daemon import request

    daemon, token, _ = unsealed
    for path in ("/", "/v2/secret/x", "/ui/", "/v1/secret/line%0Abreak"):
        status, body = request("GET", daemon.address + path, token=token)
        assert status == 404 and body == {"errors": ["Not Found"]}, path


def test_rotate_adds_a_term_and_old_data_stays_readable(unsealed) -> None:
    daemon, token, _ = unsealed
    daemon.call("PUT", "secret/before-rotate", {"v": "old"}, token=token)
    term = daemon.call("GET", "sys/key-status", token=token)[1]["data"]["term"]
    assert daemon.call("POST", "sys/rotate", token=token)[0] == 204
    _, body = daemon.call("GET", "sys/key-status", token=token)
    assert body["data"]["term"] == term + 1 and body["data"]["install_time"]
    assert daemon.call("GET", "secret/before-rotate", token=token)[1]["data"] == {"v": "old"}


def test_health_codes_and_overrides(unsealed) -> None:
    daemon, _, _ = unsealed
    status, body = daemon.call("GET", "sys/health")
    assert status == 200 and body["initialized"] is True and body["sealed"] is False
    assert daemon.call("GET", "sys/health?activecode=299")[0] == 299
    assert daemon.call("GET", "sys/health?activecode=abc")[0] == 400


def test_seal_needs_a_root_token_then_everything_is_503(unsealed) -> None:
    daemon, token, key = unsealed
    assert daemon.call("PUT", "sys/seal")[0] == 403
    assert daemon.call("PUT", "sys/seal", token="hvs.bogus")[0] == 403
    assert daemon.call("PUT", "sys/seal", token=token)[0] == 204
    status, body = daemon.call("GET", "secret/tok", token=token)
    assert status == 503 and body == {"errors": ["Vault is sealed"]}
    assert daemon.call("GET", "sys/health")[0] == 503
    assert daemon.call("GET", "sys/health?sealedcode=200")[0] == 200
    assert daemon.call("PUT", "sys/unseal", {"key": key})[1]["sealed"] is False
    assert daemon.call("GET", "secret/tok", token=token)[0] == 200
