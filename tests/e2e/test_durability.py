"""kill -9 during writes loses no acknowledged write."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.e2e.conftest import pkcs11_config
from tests.e2e.daemon import request


def test_kill_9_during_writes_keeps_every_acknowledged_write(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    token = json.loads((tmp_path / "init.json").read_text())["root_token"]
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        number = 0
        while not stop.is_set():
            try:
                status, _ = request("PUT", f"{daemon.address}/v1/secret/load/{number}", {"n": number}, token)
            except OSError:
                return
            if status == 204:
                acknowledged.append(number)
            number += 1

    thread = threading.Thread(target=writer)
    thread.start()
    daemon.wait_until(lambda: len(acknowledged) >= 200, "200 acknowledged writes")
    daemon.kill()
    stop.set()
    thread.join(timeout=30)

    daemon.start(wait_for="unsealed")
    for number in acknowledged:
        status, body = daemon.call("GET", f"secret/load/{number}", token=token)
        assert status == 200, f"acknowledged write {number} lost"
        assert body["data"] == {"n": number}
