"""High availability end to end: three daemons (real processes) on one PostgreSQL, each unsealing through
the same SoftHSM token. One is active; the standbys forward or redirect; kill -9 of the active under a
write load hands over to a standby with no acknowledged write lost and leases still expiring; a
step-down moves the lock; PostgreSQL going away and coming back needs no restart."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hvac
import pytest

from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon, free_port
from tests.e2e.write_load import WriteLoad
from tests.postgres import PostgresCluster

_installations = itertools.count(1)  # each test's three nodes share tables of their own
FAILOVER_BOUND = 10.0  # seconds the issue allows for a standby to take over


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    made = PostgresCluster.create()
    yield made
    made.destroy()


def node_config(token: Any, workdir: Path, cluster: PostgresCluster, port: int, *, first: bool,
                forwarding: bool, installation: int) -> dict[str, Any]:
    config = pkcs11_config(token, workdir)
    config["storage"] = {"postgresql": {"connection_url": cluster.dsn, "table": f"store_{installation}",
                                        "ha_enabled": True, "ha_table": f"ha_{installation}"}}
    config["api_addr"] = f"http://127.0.0.1:{port}"
    config["request_forwarding"] = forwarding
    if not first:
        del config["auto_init"]  # the first node initialised the shared storage
    return config


@pytest.fixture
def trio(daemons: Callable[..., Daemon], softhsm_token: Any, tmp_path: Path,
         cluster: PostgresCluster) -> tuple[list[Daemon], str]:
    nodes = []
    installation = next(_installations)
    for index in range(3):
        workdir = tmp_path / f"node{index}"
        port = free_port()
        daemon = daemons(workdir, node_config(softhsm_token, workdir, cluster, port, first=index == 0,
                                              forwarding=index != 2, installation=installation))
        daemon.port = port
        nodes.append(daemon)
    nodes[0].start(wait_for="unsealed")
    for standby in nodes[1:]:
        standby.start()
        standby.wait_until(lambda s=standby: s.health_status() == 429, "the node to unseal as a standby")
    root = json.loads((tmp_path / "node0" / "init.json").read_text())["root_token"]
    return nodes, root


def active_among(nodes: list[Daemon]) -> Daemon | None:
    found = [node for node in nodes if node.process is not None and node.health_status() == 200]
    return found[0] if len(found) == 1 else None


def test_one_active_standbys_forward_or_redirect_and_report_the_leader(trio: tuple[list[Daemon], str]) -> None:
    (active, forwarding, redirecting), root = trio
    status, leader = forwarding.call("GET", "sys/leader")
    assert status == 200
    assert (leader["ha_enabled"], leader["is_self"], leader["leader_address"]) == (True, False, active.address)
    assert active.call("GET", "sys/leader")[1]["is_self"] is True
    health = forwarding.call("GET", "sys/health")[1]
    assert (health["sealed"], health["standby"]) == (False, True)
    assert forwarding.call("GET", "sys/health?standbyok=true")[0] == 200

    # hvac against a standby: forwarded to the active, read back from the active.
    hvac.Client(url=forwarding.address, token=root).secrets.kv.v1.create_or_update_secret("ha/x", {"v": "1"})
    assert hvac.Client(url=active.address, token=root).secrets.kv.v1.read_secret("ha/x")["data"] == {"v": "1"}
    # Standbys serve no request themselves: a read right after an acknowledged write sees it.
    for value in ("2", "3"):
        hvac.Client(url=active.address, token=root).secrets.kv.v1.create_or_update_secret("ha/x", {"v": value})
        assert hvac.Client(url=forwarding.address, token=root).secrets.kv.v1.read_secret("ha/x")["data"] == {
            "v": value
        }

    # A node configured not to forward answers with a 307 to the active's api_addr.
    connection = http.client.HTTPConnection("127.0.0.1", redirecting.port, timeout=10)
    connection.request("GET", "/v1/secret/ha/x", headers={"X-Vault-Token": root})
    answer = connection.getresponse()
    assert answer.status == 307
    assert answer.getheader("Location") == f"{active.address}/v1/secret/ha/x"
    connection.close()
    # ... which hvac follows.
    assert hvac.Client(url=redirecting.address, token=root).secrets.kv.v1.read_secret("ha/x")["data"] == {"v": "3"}

    nodes = active.call("GET", "sys/ha-status", token=root)[1]["nodes"]
    assert sorted((n["api_address"], n["active_node"]) for n in nodes) == sorted(
        [(active.address, True), (forwarding.address, False), (redirecting.address, False)]
    )


def test_kill_9_of_the_active_under_writes_fails_over_without_losing_writes_or_leases(
    trio: tuple[list[Daemon], str],
) -> None:
    (active, forwarding, redirecting), root = trio
    # A token that must still expire after the failover: only the new active's lease manager can revoke it.
    short = active.call("POST", "auth/token/create", {"ttl": "6s", "policies": ["default"]}, token=root)[1]
    short_token = short["auth"]["client_token"]

    # A client of the forwarding standby, which outlives the active.
    load = WriteLoad(forwarding.address, root, keep_going=True)
    survivors = [forwarding, redirecting]
    with load.running():
        active.wait_until(lambda: len(load.acknowledged) >= 50, "50 acknowledged writes")
        active.kill()
        killed_at = time.monotonic()
        forwarding.wait_until(lambda: active_among(survivors) is not None, "a standby to become active",
                              timeout=FAILOVER_BOUND)
        assert time.monotonic() - killed_at <= FAILOVER_BOUND
        before = len(load.acknowledged)
        forwarding.wait_until(lambda: len(load.acknowledged) >= before + 50, "writes through the new active")

    new_active = active_among(survivors)
    assert new_active is not None
    load.assert_none_lost(new_active)
    new_active.wait_until(
        lambda: new_active.call("GET", "auth/token/lookup-self", token=short_token)[0] == 403,
        "the short token's lease to expire on the new active",
    )


def test_step_down_hands_the_lock_to_a_standby(trio: tuple[list[Daemon], str]) -> None:
    (active, forwarding, redirecting), root = trio
    assert active.call("PUT", "sys/step-down", token=root)[0] == 204
    active.wait_until(lambda: active.health_status() == 429, "the old active to become a standby")
    others = [forwarding, redirecting]
    active.wait_until(lambda: active_among(others) is not None, "another node to become active",
                      timeout=FAILOVER_BOUND)
    assert forwarding.call("GET", "sys/leader")[1]["leader_address"] == active_among(others).address  # type: ignore[union-attr]


def test_postgresql_down_is_reported_and_recovered_from_without_restart(
    trio: tuple[list[Daemon], str], cluster: PostgresCluster
) -> None:
    (active, _, _), root = trio
    cluster.stop()
    try:
        status, body = active.call("PUT", "secret/during-outage", {"v": 1}, token=root)
        assert 500 <= status < 600
        assert any("postgres" in error.lower() or "standby" in error for error in body["errors"]), body
    finally:
        cluster.start()
    nodes = [active, *trio[0][1:]]

    def writes_again() -> bool:
        node = active_among(nodes)
        return node is not None and node.call("PUT", "secret/after-outage", {"v": 2}, token=root)[0] == 204

    active.wait_until(writes_again, "a node to serve writes again once PostgreSQL is back", timeout=30)
    # Every node serves again: a standby may need a moment to learn who the new active is.
    for node in nodes:
        node.wait_until(lambda n=node: (n.call("GET", "secret/after-outage", token=root)[1] or {}).get("data")
                        == {"v": 2}, f"{node.address} to serve the write made after the outage", timeout=10)
    for node in nodes:
        assert node.process is not None and node.process.poll() is None
        assert cluster.password not in node.log()
    assert urlsplit(active.address).hostname == "127.0.0.1"


def test_nodes_starting_together_on_an_empty_store_initialise_it_once(
    daemons: Callable[..., Daemon], softhsm_token: Any, tmp_path: Path, cluster: PostgresCluster
) -> None:
    installation = next(_installations)
    nodes = []
    for index in range(2):
        workdir = tmp_path / f"node{index}"
        port = free_port()
        # Both with auto_init: the init lock in PostgreSQL lets one of them make the keys.
        daemon = daemons(workdir, node_config(softhsm_token, workdir, cluster, port, first=True, forwarding=True,
                                              installation=installation))
        daemon.port = port
        nodes.append(daemon)
    for node in nodes:
        node.start()
    for node in nodes:
        node.wait_until(lambda n=node: n.health_status() in (200, 429), "the node to unseal")
    written = [node for node in nodes if (node.workdir / "init.json").exists()]
    assert len(written) == 1, "exactly one node initialised the store"
    root = json.loads((written[0].workdir / "init.json").read_text())["root_token"]
    for node in nodes:
        assert node.call("GET", "auth/token/lookup-self", token=root)[0] == 200
    assert sorted(node.health_status() for node in nodes) == [200, 429]
    other = next(node for node in nodes if node is not written[0])
    assert "initialised by another node meanwhile" in other.log() or "unsealed as a standby" in other.log()
