"""kill -9 with a file audit device under load, round after round: the file still verifies (each restart's
chain-start line links to the last line really in the file, though the stored chain position is saved in
the background and may lag), and every request a client saw answered has its response line in the file.

The kill points come from a seeded random generator (SEALER_FAULT_SEED to replay)."""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
from pathlib import Path

from tests.e2e.daemon import Daemon
from tests.e2e.lifecycle_helpers import sealer
from tests.faults.conftest import FaultDaemons, root_token

ROUNDS = 6
CLIENTS = 4
SEED = int(os.environ.get("SEALER_FAULT_SEED", "20261129"))


class Load:
    """Client threads writing a new path each time, until the daemon is killed; `answered` holds the paths
    whose write the daemon acknowledged."""

    def __init__(self, daemon: Daemon, token: str, round_number: int) -> None:
        self._daemon, self._token, self._round = daemon, token, round_number
        self.answered: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]

    def _run(self, client: int) -> None:
        for n in range(1_000_000):
            path = f"secret/audit-load/{self._round}-{client}-{n}"
            try:
                status, _ = self._daemon.call("PUT", path, {"n": n}, token=self._token)
            except (OSError, http.client.HTTPException):  # killed
                return
            if status == 204:
                with self._lock:
                    self.answered.append(path)

    def count(self) -> int:
        with self._lock:
            return len(self.answered)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        for thread in self._threads:
            thread.join(timeout=30)


def test_kill_9_never_breaks_the_audit_chain(fault_daemons: FaultDaemons, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    print(f"audit kill -9 rounds: SEALER_FAULT_SEED={SEED}")
    daemon = fault_daemons.make()
    token = root_token(daemon)
    log = tmp_path / "audit.log"
    status, body = daemon.call("PUT", "sys/audit/file", {"type": "file", "options": {"file_path": str(log)}},
                               token=token)
    assert status == 204, body
    answered: list[str] = []
    for round_number in range(ROUNDS):
        kill_after = rng.randint(1, 60)
        with Load(daemon, token, round_number) as load:
            daemon.wait_until(lambda load=load, n=kill_after: load.count() >= n, f"{kill_after} answered writes")
            daemon.kill()
        answered += load.answered
        daemon.start(wait_for="unsealed")

    result = sealer(daemon, "audit", "verify", str(log), token=token)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert sum(1 for e in lines if e["type"] == "chain-start") == ROUNDS + 1
    responded = {e["request"]["path"] for e in lines if e["type"] == "response" and "error" not in e}
    assert set(answered) <= responded and len(answered) >= ROUNDS
