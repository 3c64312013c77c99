"""A pkcs11-sealed daemon: unattended first start, auto-unseal on restart, nothing readable at rest."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import hvac

from tests.e2e.conftest import pkcs11_config


def test_first_start_initialises_and_later_starts_unseal_alone(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")

    init_file = tmp_path / "init.json"
    assert stat.S_IMODE(init_file.stat().st_mode) == 0o600
    secrets_out = json.loads(init_file.read_text())
    root_token = secrets_out["root_token"]
    assert len(secrets_out["recovery_keys"]) == 3
    assert secrets_out["keys"] == []
    # Printed once on stdout, never in the log.
    assert root_token in daemon.stdout()
    assert root_token not in daemon.log()
    assert all(key not in daemon.log() for key in secrets_out["recovery_keys_base64"])

    client = hvac.Client(url=daemon.address, token=root_token)
    assert client.sys.read_seal_status()["type"] == "pkcs11"
    assert client.sys.read_seal_status()["recovery_seal"] is True
    client.secrets.kv.v1.create_or_update_secret(path="app/db", secret={"password": "hunter2-plaintext"})

    daemon.stop()
    daemon.start(wait_for="unsealed")
    again = hvac.Client(url=daemon.address, token=root_token)
    assert again.secrets.kv.v1.read_secret(path="app/db")["data"] == {"password": "hunter2-plaintext"}
    # A restart does not initialise again: the same root token still works and no new secrets were printed.
    assert daemon.stdout().count("Root Token:") == 1


def test_storage_holds_nothing_readable(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    root_token = json.loads((tmp_path / "init.json").read_text())["root_token"]
    status, _ = daemon.call("POST", "secret/plain", {"marker": "correct-horse-battery-staple"}, token=root_token)
    assert status == 204
    daemon.stop()

    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
    assert b"correct-horse-battery-staple" not in raw
    assert root_token.encode() not in raw


def test_a_token_without_the_right_keys_cannot_unseal(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    daemon.stop()
    # Same storage, but the seal points at another wrapping key: it must stay sealed and say why.
    daemon.config = pkcs11_config(softhsm_token, tmp_path, key_label="some-other-key")
    daemon.start()
    daemon.wait_until(lambda: "seal_error" in daemon.call("GET", "sys/seal-status")[1], "a seal error")
    _, body = daemon.call("GET", "sys/seal-status")
    assert body["sealed"] is True
    assert "some-other-key" in body["seal_error"]
    assert daemon.health_status() == 503


def test_wrong_pin_keeps_it_sealed_and_says_so(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path, pin="not-the-pin"))
    daemon.start()
    daemon.wait_until(lambda: "seal_error" in daemon.call("GET", "sys/seal-status")[1], "a seal error")
    _, status = daemon.call("GET", "sys/seal-status")
    assert "PIN" in status["seal_error"]
    assert status["sealed"] is True
    status_code, health = daemon.call("GET", "sys/health")
    assert status_code == 501  # not initialised: it could not even reach the token to initialise
    assert "PIN" in health["seal_error"]
    daemon.wait_until(lambda: "retrying" in daemon.log(), "the retry to be logged")
    assert "not-the-pin" not in daemon.log()


def test_missing_token_is_retried_until_it_appears(daemons, softhsm, tmp_path: Path) -> None:
    from tests.softhsm import make_token

    label = f"late-{tmp_path.name}"[-32:]
    token = type("Token", (), {"label": label, "pin": "4321"})()
    daemon = daemons(tmp_path, pkcs11_config(token, tmp_path)).start()
    daemon.wait_until(lambda: label in daemon.call("GET", "sys/seal-status")[1].get("seal_error", ""),
                      "the missing token to be reported")
    make_token(softhsm.directory, label, "4321", "87654321")
    daemon.wait_until(lambda: daemon.health_status() == 200, "the daemon to find the token and unseal", 60)
