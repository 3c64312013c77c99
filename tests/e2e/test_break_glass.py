"""Break-glass with the daemon as a real process: every token lost, a threshold of recovery shares
unseals it when (and only when) break-glass is on, and says so loudly in the log and the status."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.e2e.lifecycle_helpers import (
    config,
    init_output,
    read_secret,
    seal_status,
    token_block,
    unseal,
    write_secret,
)


def test_recovery_shares_unseal_without_any_token_only_with_break_glass(daemons, softhsm_token,
                                                                       tmp_path: Path) -> None:
    block = token_block(softhsm_token)
    daemon = daemons(tmp_path, config(tmp_path, {"pkcs11": block, "break_glass": True})).start(wait_for="unsealed")
    secrets_out = init_output(tmp_path)
    root, recovery = secrets_out["root_token"], secrets_out["recovery_keys"]
    write_secret(daemon, root, "behind-glass")
    assert seal_status(daemon)["break_glass"] == {"enabled": True, "stored": True, "active": False,
                                                  "last_used": None}
    daemon.stop()

    lost = {**block, "token_label": f"lost-{uuid.uuid4().hex[:8]}"}
    # Off (the default): recovery shares only authorise, the daemon stays sealed.
    daemon.config = config(tmp_path, {"pkcs11": lost})
    daemon.start()
    assert daemon.call("PUT", "sys/unseal", {"key": recovery[0]})[0] == 200
    status, body = daemon.call("PUT", "sys/unseal", {"key": recovery[1]})
    assert status == 503 and "no token labelled" in body["errors"][0]
    assert seal_status(daemon)["sealed"] is True
    daemon.stop()

    daemon.config = config(tmp_path, {"pkcs11": lost, "break_glass": True})
    daemon.start()
    assert seal_status(daemon)["sealed"] is True
    assert unseal(daemon, [recovery[2], recovery[0]])["sealed"] is False
    assert read_secret(daemon, root) == "behind-glass"
    glass = seal_status(daemon)["break_glass"]
    assert glass["active"] is True and glass["last_used"]
    log = daemon.log()
    assert "[WARNING] sealer.seal: BREAK-GLASS:" in log
    assert all(key not in log for key in recovery + secrets_out["recovery_keys_base64"])
