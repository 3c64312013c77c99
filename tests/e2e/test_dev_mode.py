"""`sealer server --dev`: no config, a private token, initialised and unsealed, a chosen root token."""

from __future__ import annotations

from pathlib import Path

import hvac

from tests.e2e.daemon import free_port


def test_dev_server_is_ready_with_the_given_root_token(daemons, tmp_path: Path) -> None:
    port = free_port()
    daemon = daemons(tmp_path, {}, args=["server", "--dev", f"--dev-listen-address=127.0.0.1:{port}",
                                         "-dev-root-token-id=dev-root"])
    daemon.port = port
    daemon.start(wait_for="unsealed")
    client = hvac.Client(url=daemon.address, token="dev-root")
    assert client.is_authenticated()
    client.secrets.kv.v1.create_or_update_secret(path="hello", secret={"world": "yes"})
    assert client.secrets.kv.v1.read_secret(path="hello")["data"] == {"world": "yes"}
    assert "Root Token: dev-root" in daemon.stdout()
    assert client.sys.read_seal_status()["type"] == "pkcs11"
