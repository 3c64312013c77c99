"""The tpm2 seal with the daemon as a real process and swtpm as the machine's TPM: init, restart and
unseal on its own; a PCR change keeps it sealed with a seal_error naming the PCR; `sealer operator
tpm-reseal` with recovery shares unseals it, and the next start unseals on its own in the new state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon import Daemon
from tests.e2e.lifecycle_helpers import config, init_output, read_secret, seal_status, sealer, write_secret
from tests.tpm.swtpm import SwTpm


@pytest.fixture(scope="module")
def machine_tpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwTpm]:
    tpm = SwTpm(tmp_path_factory.mktemp("machine-tpm")).start()
    yield tpm
    tpm.stop()


def tpm2_config(workdir: Path, tpm: SwTpm, **seal: Any) -> dict[str, Any]:
    return config(workdir, {"tpm2": {"tcti": tpm.tcti, "pcrs": "sha256:0,7"}, **seal})


def test_unseals_on_boot_stays_sealed_after_a_pcr_change_and_tpm_reseal_recovers(
        daemons, machine_tpm: SwTpm, tmp_path: Path) -> None:
    daemon: Daemon = daemons(tmp_path, tpm2_config(tmp_path, machine_tpm)).start(wait_for="unsealed")
    init = init_output(tmp_path)
    root, recovery = init["root_token"], init["recovery_keys"]
    write_secret(daemon, root, "s3cret")
    status = seal_status(daemon)
    assert status["type"] == "tpm2" and status["recovery_seal"] is True
    assert status["break_glass"]["stored"] is True

    daemon.stop()
    daemon.start(wait_for="unsealed")  # the TPM alone unseals it, in the same boot state
    assert read_secret(daemon, root) == "s3cret"

    daemon.stop()
    machine_tpm.extend_pcr(7)  # a changed boot chain
    daemon.start()
    daemon.wait_until(lambda: "seal_error" in seal_status(daemon), "the seal error to be reported")
    error = seal_status(daemon)["seal_error"]
    assert seal_status(daemon)["sealed"] is True
    assert "changed: sha256:7" in error and "sealer operator tpm-reseal" in error
    health, body = daemon.call("GET", "sys/health")
    assert health == 503 and body["seal_error"] == error
    status_cli = sealer(daemon, "status", "-format=json")
    assert status_cli.returncode == 2 and json.loads(status_cli.stdout)["seal_error"] == error
    assert daemon.call("GET", "secret/app", token=root)[0] == 503

    done = sealer(daemon, "operator", "tpm-reseal", recovery[0], recovery[2])
    assert done.returncode == 0, done.stderr
    assert "Success! The root key is sealed to the TPM's current state (sha256:0,7)" in done.stdout
    assert seal_status(daemon)["sealed"] is False
    assert read_secret(daemon, root) == "s3cret"

    daemon.stop()
    daemon.start(wait_for="unsealed")  # every later start unseals on its own in the new state
    assert read_secret(daemon, root) == "s3cret"
    # Stopped, not killed: without a resource manager a killed daemon may leave objects loaded in swtpm.
    daemon.stop()
    log = daemon.log()
    assert "tpm-reseal: the root key is now sealed to the TPM's current state" in log
    assert all(key not in log for key in recovery + init["recovery_keys_base64"])


def test_tpm_reseal_over_http_takes_shares_with_a_nonce_and_refuses_bad_input(
        daemons, machine_tpm: SwTpm, tmp_path: Path) -> None:
    daemon: Daemon = daemons(tmp_path, tpm2_config(tmp_path, machine_tpm)).start(wait_for="unsealed")
    recovery = init_output(tmp_path)["recovery_keys"]
    status, body = daemon.call("GET", "sys/sealer/seal/tpm-reseal")
    assert status == 200 and body == {"started": False, "nonce": "", "progress": 0, "required": 2,
                                      "pcrs": "sha256:0,7", "sealed": False, "complete": False}
    assert daemon.call("PUT", "sys/sealer/seal/tpm-reseal", {})[0] == 400
    assert daemon.call("PUT", "sys/sealer/seal/tpm-reseal", {"key": recovery[0], "extra": 1})[0] == 400
    status, first = daemon.call("PUT", "sys/sealer/seal/tpm-reseal", {"key": recovery[0]})
    assert status == 200 and first["progress"] == 1 and first["nonce"]
    status, body = daemon.call("PUT", "sys/sealer/seal/tpm-reseal", {"key": recovery[1], "nonce": "wrong"})
    assert status == 400 and "nonce does not match" in body["errors"][0]
    shown = sealer(daemon, "operator", "tpm-reseal", "-status")
    assert shown.returncode == 0 and f"1 of 2 recovery keys (nonce {first['nonce']})" in shown.stdout
    assert sealer(daemon, "operator", "tpm-reseal", "-cancel").returncode == 0
    assert daemon.call("GET", "sys/sealer/seal/tpm-reseal")[1]["progress"] == 0
    # While unsealed a reseal is allowed too (e.g. to apply a changed `pcrs:`): it completes and stays unsealed.
    _, first = daemon.call("PUT", "sys/sealer/seal/tpm-reseal", {"key": recovery[1]})
    status, done = daemon.call("PUT", "sys/sealer/seal/tpm-reseal", {"key": recovery[2], "nonce": first["nonce"]})
    assert status == 200 and done["complete"] is True and done["sealed"] is False
    daemon.stop()


def test_tpm_reseal_on_a_shamir_daemon_is_refused(daemons, tmp_path: Path) -> None:
    daemon: Daemon = daemons(tmp_path, config(tmp_path, {"shamir": {}})).start(wait_for="unsealed")
    status, body = daemon.call("GET", "sys/sealer/seal/tpm-reseal")
    assert status == 400 and body["errors"] == ["tpm-reseal applies to the tpm2 seal; this daemon's seal is shamir"]
