"""The pkcs11 seal over two SoftHSM tokens with the daemon as a real process: the root key wrapped under
both, the daemon unsealing through whichever answers (by priority), each token's health on
sys/seal-status, and a token that appears later getting its wrapping from the periodic check."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.e2e.lifecycle_helpers import config, init_output, read_secret, seal_status, token_block, write_secret
from tests.softhsm import make_token


def by_name(status: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in status["seals"]}


def test_two_tokens_either_unseals_and_a_late_token_is_wrapped(daemons, softhsm, softhsm_token, tmp_path: Path) -> None:
    backup = make_token(softhsm.directory, f"backup-{uuid.uuid4().hex[:8]}", softhsm.pin, softhsm.so_pin)
    tokens = [token_block(softhsm_token, name="primary", priority=1), token_block(backup, name="backup", priority=2)]
    daemon = daemons(tmp_path, config(tmp_path, {"pkcs11": tokens, "health_check_interval": 0.2}))
    daemon.start(wait_for="unsealed")
    root = init_output(tmp_path)["root_token"]
    write_secret(daemon, root, "two-tokens")
    seals = by_name(seal_status(daemon))
    assert [seals[name]["wrapped"] for name in ("primary", "backup")] == [True, True]
    assert [seals[name]["priority"] for name in ("primary", "backup")] == [1, 2]
    daemon.stop()

    # The primary token is gone (nothing answers to its label); a third token will appear later.
    late = f"late-{uuid.uuid4().hex[:8]}"
    daemon.config = config(tmp_path, {"pkcs11": [
        {**token_block(softhsm_token, name="primary", priority=1), "token_label": late},
        token_block(backup, name="backup", priority=2),
    ], "health_check_interval": 0.2})
    daemon.start(wait_for="unsealed")
    assert read_secret(daemon, root) == "two-tokens"
    seals = by_name(seal_status(daemon))
    assert seals["backup"]["healthy"] is True
    assert seals["primary"]["healthy"] is False and late in seals["primary"]["error"]
    assert seals["primary"]["wrapped"] is False

    make_token(softhsm.directory, late, softhsm.pin, softhsm.so_pin)
    daemon.wait_until(lambda: by_name(seal_status(daemon))["primary"]["wrapped"], "the late token to be wrapped")
    assert by_name(seal_status(daemon))["primary"]["healthy"] is True
    assert "had no wrapping of the root key: wrapped it" in daemon.log()
    daemon.stop()

    # The late token alone unseals now.
    daemon.config = config(tmp_path, {"pkcs11": {**token_block(softhsm_token), "token_label": late}})
    daemon.start(wait_for="unsealed")
    assert read_secret(daemon, root) == "two-tokens"
    status, layout = daemon.call("GET", "sys/sealer/seal", token=root)
    assert status == 200 and len(layout["wrappings"]) == 3
    # The wrapping of a token no longer configured can be dropped; the one in use cannot.
    unused = next(w for w in layout["wrappings"] if w["token_label"] == backup.label)
    used = next(w for w in layout["wrappings"] if w["token_label"] == late)
    assert daemon.call("DELETE", f"sys/sealer/seal/wrappings/{used['id']}", token=root)[0] == 400
    assert daemon.call("DELETE", f"sys/sealer/seal/wrappings/{unused['id']}", token=root)[0] == 200
    assert len(daemon.call("GET", "sys/sealer/seal", token=root)[1]["wrappings"]) == 2
