"""HSM key rotation with the daemon as a real process, driven by `sealer operator rotate-hsm-key`: killed
at each step it restarts and unseals (with the old key before the commit, the new one after), and a
configuration that still names the old key finds the new one until it is updated."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.lifecycle_helpers import config, crash_at, init_output, read_secret, sealer, token_block, write_secret


def test_rotation_survives_a_kill_at_every_step(daemons, softhsm_token, tmp_path: Path) -> None:
    old = config(tmp_path, {"pkcs11": token_block(softhsm_token)})
    daemon = daemons(tmp_path, old).start(wait_for="unsealed")
    root = init_output(tmp_path)["root_token"]
    write_secret(daemon, root, "rotated")
    daemon.stop()

    def rotate() -> None:
        daemon.wait_until(lambda: daemon.health_status() == 200, "the daemon to unseal")
        sealer(daemon, "operator", "rotate-hsm-key", "-key-label=root-wrap-2", "-hmac-key-label=root-hmac-2",
               "-generate-key", token=root)

    crash_at(daemon, "rewrap-staged", rotate)
    daemon.start(wait_for="unsealed")  # the old key is still in force
    pending = sealer(daemon, "operator", "rotate-hsm-key", "-status", "-format=json", token=root)
    assert json.loads(pending.stdout)["pending"] is True
    daemon.stop()
    crash_at(daemon, "rewrap-verified", rotate)  # unsealed with the old key, and rotating again
    crash_at(daemon, "rewrap-committed", rotate)

    # Committed: the configuration still names the old key, and the daemon follows the record.
    daemon.start(wait_for="unsealed")
    assert read_secret(daemon, root) == "rotated"
    assert "rotated to key 'root-wrap-2'" in daemon.log()
    status = sealer(daemon, "operator", "rotate-hsm-key", "-status", "-format=json", token=root)
    assert json.loads(status.stdout) == {"pending": False}
    # A rotation to completion prints what to change in the configuration.
    done = sealer(daemon, "operator", "rotate-hsm-key", "-key-label=root-wrap-3", "-generate-key", token=root)
    assert done.returncode == 0, done.stderr
    assert "now wrapped under key 'root-wrap-3'" in done.stdout
    assert "key_label: root-wrap-3, hmac_key_label: root-hmac-2" in done.stdout
    denied = sealer(daemon, "operator", "rotate-hsm-key", "-key-label=root-wrap-4", "-generate-key")
    assert denied.returncode == 1 and "permission denied" in denied.stderr
    daemon.stop()

    daemon.config = config(tmp_path, {"pkcs11": token_block(softhsm_token, key_label="root-wrap-3",
                                                            hmac_key_label="root-hmac-2")})
    log_before = len(daemon.log())
    daemon.start(wait_for="unsealed")
    assert read_secret(daemon, root) == "rotated"
    assert "rotated to key" not in daemon.log()[log_before:]
