"""sys/metrics on a running pkcs11-sealed daemon: scraped as Prometheus text and parsed with
prometheus_client's own parser; request counts move for the right mount and operation, the seal
gauges say unsealed, the HSM calls of the unseal are counted, and the endpoint wants a token allowed
to read sys/metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from softhsm import make_token

from engine.storage.memory import MemoryStorage
from sealer.config import ListenerConfig
from sealer.http.app import build_app
from sealer.seal_manager import SealManager
from sealer.seals.shamir import ShamirSeal
from tests.e2e.audit_helpers import StreamCollector
from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon

_ANY_TOKEN = {"X-Vault-Token": "any"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("metrics")
    token = make_token(softhsm.directory, f"metrics-e2e-{workdir.name}", softhsm.pin, softhsm.so_pin)
    server = Daemon(workdir=workdir, config=pkcs11_config(token, workdir), env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    root = json.loads((workdir / "init.json").read_text())["root_token"]
    yield server, root
    server.kill()


def scrape(server: Daemon, token: str | None, query: str = "?format=prometheus") -> tuple[int, str, str]:
    """(status, Content-Type, body) of GET sys/metrics."""
    req = urllib.request.Request(f"{server.address}/v1/sys/metrics{query}")
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def samples(server: Daemon, token: str) -> Samples:
    status, content_type, body = scrape(server, token)
    assert status == 200 and content_type.startswith("text/plain"), body
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_counts_and_latencies_move_for_the_mount_and_operation(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    before = samples(server, root)
    assert server.call("PUT", "secret/metrics-app", {"colour": "blue"}, token=root)[0] == 204
    assert server.call("PUT", "secret/metrics-app", {"colour": "red"}, token=root)[0] == 204
    for _ in range(3):
        assert server.call("GET", "secret/metrics-app", token=root)[0] == 200
    assert server.call("GET", "secret/metrics-missing", token=root)[0] == 404
    after = samples(server, root)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "sealer_http_requests_total"
    assert moved(requests, mount="secret/", operation="read", code="200") == 3
    assert moved(requests, mount="secret/", operation="read", code="404") == 1
    # kv v1: the first write creates, the second updates.
    assert moved(requests, mount="secret/", operation="create", code="204") == 1
    assert moved(requests, mount="secret/", operation="update", code="204") == 1
    assert moved("sealer_http_request_duration_seconds_count", mount="secret/", operation="read") == 4
    assert moved("sealer_http_request_duration_seconds_sum", mount="secret/", operation="read") > 0
    # The scrape before this one was counted under sys/.
    assert moved(requests, mount="sys/", operation="read", code="200") >= 1


def test_seal_state_hsm_calls_leases_and_audit_failures(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    found = samples(server, root)
    assert value(found, "sealer_sealed") == 0
    assert value(found, "sealer_initialized") == 1
    assert value(found, "sealer_standby") == 0
    # Initialising wrapped the root key in the token (and unsealing used it).
    hsm_calls = {dict(labels)["operation"]: v for (name, labels), v in found.items()
                 if name == "sealer_hsm_calls_total"}
    assert hsm_calls.get("encrypt", 0) >= 1, hsm_calls
    assert value(found, "sealer_hsm_call_duration_seconds_count", operation="encrypt") == hsm_calls["encrypt"]
    assert value(found, "sealer_hsm_call_duration_seconds_sum", operation="encrypt") > 0
    assert ("sealer_leases", (("type", "all"),)) in found
    # A token with a TTL is a lease of the expiration manager, as in Vault.
    assert server.call("POST", "auth/token/create", {"ttl": "1h", "policies": ["default"]}, token=root)[0] == 200
    leases = samples(server, root)
    assert value(leases, "sealer_leases", type="all") == value(found, "sealer_leases", type="all") + 1
    assert value(found, "sealer_audit_log_failures_total") == 0


def test_a_token_needs_read_on_sys_metrics(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    assert scrape(server, None)[0] == 403
    assert scrape(server, "not-a-token")[0] == 403
    policy = 'path "sys/metrics" { capabilities = ["read"] }'
    assert server.call("PUT", "sys/policies/acl/scraper", {"policy": policy}, token=root)[0] == 204
    status, made = server.call("POST", "auth/token/create", {"policies": ["scraper"]}, token=root)
    assert status == 200
    scraper = made["auth"]["client_token"]
    status, _, body = scrape(server, scraper, query="")
    assert status == 200 and "sealer_sealed 0.0" in body
    status, made = server.call("POST", "auth/token/create", {"policies": ["default"]}, token=root)
    assert scrape(server, made["auth"]["client_token"])[0] == 403


def test_only_the_prometheus_format_is_served(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    status, _, body = scrape(server, root, query="?format=json")
    assert status == 400 and "format=prometheus" in json.loads(body)["errors"][0]


def test_requests_refused_for_want_of_an_audit_device_are_counted(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    collector = StreamCollector()
    device = {"type": "socket", "options": {"address": collector.address, "write_timeout": "1s"}}
    assert server.call("PUT", "sys/audit/metrics-tcp", device, token=root)[0] == 204
    try:
        collector.close()
        # The hang-up reaches the daemon's connection; from then on requests fail closed.
        server.wait_until(lambda: server.call("GET", "sys/mounts", token=root)[0] == 500, "requests to fail closed")
        collector = StreamCollector(port=collector.port)
        assert value(samples(server, root), "sealer_audit_log_failures_total") >= 1
    finally:
        assert server.call("DELETE", "sys/audit/metrics-tcp", token=root)[0] == 204
        collector.close()


# --- a sealed node, in process ------------------------------------------------------------------


async def test_a_sealed_node_answers_only_with_unauthenticated_metrics_access() -> None:
    unauthenticated = ListenerConfig(unauthenticated_metrics_access=True)
    app = build_app(SealManager(MemoryStorage(), ShamirSeal()), listener=unauthenticated)
    async with TestClient(TestServer(app)) as client, client.get("/v1/sys/metrics") as resp:
        assert resp.status == 200
        found = {s.name: s.value for f in text_string_to_metric_families(await resp.text()) for s in f.samples}
    assert (found["sealer_sealed"], found["sealer_initialized"], found["sealer_standby"]) == (1, 0, 0)
    assert "sealer_leases" not in found  # nothing is served while sealed
    app = build_app(SealManager(MemoryStorage(), ShamirSeal()))
    async with TestClient(TestServer(app)) as client, client.get("/v1/sys/metrics", headers=_ANY_TOKEN) as resp:
        assert resp.status == 503
