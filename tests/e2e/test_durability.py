"""kill -9 during writes loses no acknowledged write."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import pkcs11_config
from tests.e2e.write_load import WriteLoad


def test_kill_9_during_writes_keeps_every_acknowledged_write(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    token = json.loads((tmp_path / "init.json").read_text())["root_token"]
    load = WriteLoad(daemon.address, token)
    with load.running():
        daemon.wait_until(lambda: len(load.acknowledged) >= 200, "200 acknowledged writes")
        daemon.kill()

    daemon.start(wait_for="unsealed")
    load.assert_none_lost(daemon)
