"""The daemon on PostgreSQL storage, as a real process: what it acknowledged survives kill -9, and while
PostgreSQL is down requests fail with a 5xx that says so, then work again without a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import Daemon
from tests.e2e.write_load import WriteLoad
from tests.postgres import PostgresCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """This module stops its cluster; the session's stays up for everyone else."""
    made = PostgresCluster.create()
    yield made
    made.destroy()


def postgres_config(token: Any, workdir: Path, cluster: PostgresCluster, table: str) -> dict[str, Any]:
    config = pkcs11_config(token, workdir)
    config["storage"] = {"postgresql": {"connection_url": cluster.dsn, "table": table}}
    return config


def root_token(workdir: Path) -> str:
    return str(json.loads((workdir / "init.json").read_text())["root_token"])


def test_kill_9_during_writes_keeps_every_acknowledged_write(
    daemons: Any, softhsm_token: Any, tmp_path: Path, cluster: PostgresCluster
) -> None:
    daemon: Daemon = daemons(tmp_path, postgres_config(softhsm_token, tmp_path, cluster, "kill_nine"))
    daemon.start(wait_for="unsealed")
    token = root_token(tmp_path)
    load = WriteLoad(daemon.address, token)
    with load.running():
        daemon.wait_until(lambda: len(load.acknowledged) >= 100, "100 acknowledged writes")
        daemon.kill()

    daemon.start(wait_for="unsealed")
    load.assert_none_lost(daemon)


def test_postgresql_down_gives_a_clear_5xx_and_the_daemon_recovers_without_restart(
    daemons: Any, softhsm_token: Any, tmp_path: Path, cluster: PostgresCluster
) -> None:
    daemon: Daemon = daemons(tmp_path, postgres_config(softhsm_token, tmp_path, cluster, "outage"))
    daemon.start(wait_for="unsealed")
    token = root_token(tmp_path)
    assert daemon.call("PUT", "secret/before", {"v": 1}, token=token)[0] == 204

    cluster.stop()
    try:
        status, body = daemon.call("PUT", "secret/during", {"v": 2}, token=token)
        assert 500 <= status < 600
        assert any(f"postgresql storage at 127.0.0.1:{cluster.port}" in error for error in body["errors"]), body
        assert daemon.process is not None and daemon.process.poll() is None, "the daemon must keep running"
    finally:
        cluster.start()

    assert daemon.call("PUT", "secret/after", {"v": 3}, token=token)[0] == 204
    assert daemon.call("GET", "secret/before", token=token)[1]["data"] == {"v": 1}
    assert daemon.call("GET", "secret/during", token=token)[0] == 404
    assert daemon.call("GET", "secret/after", token=token)[1]["data"] == {"v": 3}
    assert cluster.password not in daemon.log()
