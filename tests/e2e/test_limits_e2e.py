"""The listener's limits on a running daemon: the body size cap (413, nothing written, the daemon goes on
serving), the bound on requests in progress (a 503 at once while slow clients hold every slot, and
service again once they go), and rate limit quotas set through hvac (429 with Vault's message and
headers, on the limited mount only)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
from prometheus_client.parser import text_string_to_metric_families
from softhsm import make_token

from sealer.config import DEFAULT_MAX_REQUEST_SIZE, ConfigError, parse_config
from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon, request

MAX_REQUEST_SIZE = 4096
MAX_CONCURRENT = 3


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("limits")
    token = make_token(softhsm.directory, f"limits-e2e-{workdir.name}", softhsm.pin, softhsm.so_pin)
    config = pkcs11_config(token, workdir)
    config["listener"] = {"max_request_size": MAX_REQUEST_SIZE, "max_concurrent_requests": MAX_CONCURRENT}
    server = Daemon(workdir=workdir, config=config, env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    root = json.loads((workdir / "init.json").read_text())["root_token"]
    yield server, root
    server.kill()


def test_a_body_over_the_cap_gets_a_413_and_writes_nothing(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    counted = refused(server, root, "body_size")
    body = {"blob": "x" * (2 * MAX_REQUEST_SIZE)}
    status, answer = server.call("PUT", "secret/too-big", body, token=root)
    assert status == 413
    assert f"at most {MAX_REQUEST_SIZE} bytes" in answer["errors"][0] and "max_request_size" in answer["errors"][0]
    assert server.call("GET", "secret/too-big", token=root)[0] == 404
    assert server.call("PUT", "secret/small", {"blob": "x" * 100}, token=root)[0] == 204
    assert server.health_status() == 200
    assert refused(server, root, "body_size") == counted + 1


def _hold_open(server: Daemon) -> socket.socket:
    """A client that sends its headers and part of its body, then nothing: its request stays in progress."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"PUT /v1/secret/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"a\":")
    return sock


def test_requests_beyond_the_bound_are_refused_at_once_until_slots_free_up(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    counted = refused(server, root, "concurrency")
    holders = [_hold_open(server) for _ in range(MAX_CONCURRENT)]
    try:
        last: list[Any] = []

        def turned_away() -> bool:
            last[:] = server.call("GET", "secret/small", token=root)
            return bool(last[0] == 503)

        server.wait_until(turned_away, "the slow clients to hold every slot", timeout=10)
        assert "too many requests in progress" in last[1]["errors"][0]
        assert f"at most {MAX_CONCURRENT}" in last[1]["errors"][0]
    finally:
        for sock in holders:
            sock.close()
    server.wait_until(lambda: server.call("GET", "secret/small", token=root)[0] == 200, "the slots to free up",
                      timeout=10)
    assert refused(server, root, "concurrency") >= counted + 1


def test_a_rate_limit_quota_refuses_with_429_on_its_mount_only(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    client = hvac.Client(url=server.address, token=root)
    client.sys.create_or_update_quota(name="kv-limit", rate=3, path="secret/", interval="1h")
    assert client.sys.read_quota(name="kv-limit")["data"]["rate"] == 3
    assert client.sys.list_quotas()["data"]["keys"] == ["kv-limit"]
    try:
        url = f"{server.address}/v1/secret/small"
        status, _, headers = _get_with_headers(url, root)
        assert status == 200 and "X-Ratelimit-Limit" not in headers  # the headers are off by default
        assert server.call("PUT", "sys/quotas/config", {"enable_rate_limit_response_headers": True},
                           token=root)[0] == 204
        status, _, headers = _get_with_headers(url, root)
        assert status == 200 and (headers["X-Ratelimit-Limit"], headers["X-Ratelimit-Remaining"]) == ("3", "1")
        assert request("GET", url, token=root)[0] == 200
        status, answer, headers = _get_with_headers(url, root)
        assert status == 429
        assert answer["errors"] == ['request path "secret/small": rate limit quota exceeded']
        assert int(headers["Retry-After"]) > 0 and headers["X-Ratelimit-Limit"] == "3"
        assert headers["X-Ratelimit-Remaining"] == "0"
        assert refused(server, root, "rate_limit") == 1
        # Other mounts, and the exempt health check, are not limited by a mount's quota.
        assert server.call("GET", "sys/mounts", token=root)[0] == 200
        assert server.health_status() == 200
    finally:
        client.sys.delete_quota(name="kv-limit")
    assert server.call("GET", "secret/small", token=root)[0] == 200


def _get_with_headers(url: str, token: str) -> tuple[int, Any, dict[str, str]]:
    req = urllib.request.Request(url, headers={"X-Vault-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)



def refused(server: Daemon, root: str, reason: str) -> float:
    """sealer_http_refused_requests_total{reason} as sys/metrics says now."""
    req = urllib.request.Request(f"{server.address}/v1/sys/metrics", headers={"X-Vault-Token": root})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "sealer_http_refused_requests_total" and sample.labels["reason"] == reason)

# --- the listener keys ---------------------------------------------------------------------------


def _listener(**keys: Any) -> Any:
    return parse_config({"listener": keys, "storage": {"memory": {}}}).listener


def test_listener_limits_default_to_vaults_and_zero_means_the_default() -> None:
    listener = _listener()
    assert (listener.max_request_size, listener.max_concurrent_requests) == (DEFAULT_MAX_REQUEST_SIZE, 512)
    assert listener.unauthenticated_metrics_access is False
    assert _listener(max_request_size=0).max_request_size == DEFAULT_MAX_REQUEST_SIZE
    assert _listener(max_request_size=-1).max_request_size == -1  # as Vault: no cap


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"max_concurrent_requests": 0}, "listener.max_concurrent_requests: must be at least 1"),
        ({"max_request_size": "big"}, "listener.max_request_size: expected an integer"),
        ({"unauthenticated_metrics_access": "yes"}, "listener.unauthenticated_metrics_access: expected true or false"),
    ],
)
def test_bad_listener_limits_name_the_key(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _listener(**keys)
    assert message in str(caught.value)
