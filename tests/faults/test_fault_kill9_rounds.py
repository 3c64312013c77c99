"""kill -9 at random points under a mixed load, round after round: no acknowledged write, token, lease or lease
renewal is lost, and the daemon starts (and unseals itself) again every time.

The kill points come from a seeded random generator; the seed is printed (set SEALER_FAULT_SEED to replay).
"""

from __future__ import annotations

import http.client
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.e2e.daemon import Daemon
from tests.faults.conftest import FaultDaemons, root_token

ROUNDS = 20
SEED = int(os.environ.get("SEALER_FAULT_SEED", "20261129"))
TOKEN_TTL = 3600
RENEWED_TTL = 3 * 3600
KV2_KEYS = 4


@dataclass
class Acknowledged:
    kv1: dict[str, int] = field(default_factory=dict)  # path -> value
    kv2: dict[tuple[str, int], int] = field(default_factory=dict)  # (key, version) -> value
    tokens: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)

    def count(self) -> int:
        return len(self.kv1) + len(self.kv2) + len(self.tokens) + len(self.renewed)


class MixedLoad:
    """One client thread cycling through KV v1 writes, KV v2 writes, token creations (each with a lease) and
    renewals of those leases; it records an operation only once the daemon has answered it with success,
    and stops at the first connection error (the daemon was killed)."""

    def __init__(self, daemon: Daemon, token: str, first: int) -> None:
        self._daemon = daemon
        self._token = token
        self.next_number = first
        self.acked = Acknowledged()
        self._renewable: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._one(self.next_number)
            except (OSError, http.client.HTTPException):  # killed mid-request or mid-answer
                return
            self.next_number += 1

    def _one(self, n: int) -> None:
        call, token, acked = self._daemon.call, self._token, self.acked
        kind = n % 4
        if kind == 0:
            if call("PUT", f"secret/load/{n}", {"n": n}, token=token)[0] == 204:
                acked.kv1[f"secret/load/{n}"] = n
        elif kind == 1:
            key = f"k{n % KV2_KEYS}"
            status, body = call("POST", f"kv/data/{key}", {"data": {"n": n}}, token=token)
            if status == 200:
                acked.kv2[(key, body["data"]["version"])] = n
        elif kind == 2:
            status, body = call("POST", "auth/token/create", {"ttl": f"{TOKEN_TTL}s", "policies": ["default"]},
                                token=token)
            if status == 200:
                acked.tokens.append(body["auth"]["client_token"])
                self._renewable.append(body["auth"]["client_token"])
        elif self._renewable:
            renewing = self._renewable.pop()
            status, _ = call("POST", "auth/token/renew", {"token": renewing, "increment": f"{RENEWED_TTL}s"},
                             token=token)
            if status == 200:
                acked.renewed.append(renewing)

    @contextmanager
    def running(self) -> Iterator[MixedLoad]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def assert_nothing_lost(daemon: Daemon, token: str, acked: Acknowledged) -> None:
    for path, value in acked.kv1.items():
        status, body = daemon.call("GET", path, token=token)
        assert status == 200 and body["data"] == {"n": value}, f"acknowledged write {path} lost"
    for (key, version), value in acked.kv2.items():
        status, body = daemon.call("GET", f"kv/data/{key}?version={version}", token=token)
        assert status == 200 and body["data"]["data"] == {"n": value}, f"acknowledged kv/{key} v{version} lost"
    for created in acked.tokens:
        status, body = daemon.call("POST", "auth/token/lookup", {"token": created}, token=token)
        assert status == 200 and body["data"]["ttl"] > 0, "an acknowledged token was lost"
    for renewed in acked.renewed:
        status, body = daemon.call("POST", "auth/token/lookup", {"token": renewed}, token=token)
        # Created with one hour, renewed to three: a lost renewal would leave at most one.
        assert status == 200 and body["data"]["ttl"] > RENEWED_TTL - 600, "an acknowledged renewal was lost"


def kill_under_load(daemon: Daemon, token: str, first: int, kill_after: int) -> MixedLoad:
    """Run the load from operation number `first` and kill -9 the daemon once `kill_after` are acknowledged."""
    load = MixedLoad(daemon, token, first)
    with load.running():
        daemon.wait_until(lambda: load.acked.count() >= kill_after, f"{kill_after} acknowledged operations")
        daemon.kill()
    return load


def token_leases(daemon: Daemon, token: str) -> int:
    """How many token leases sys/leases lists, each of which must also look up with an expiry in the future."""
    status, body = daemon.call("LIST", "sys/leases/lookup/auth/token/create/", token=token)
    assert status == 200, body
    for key in body["data"]["keys"]:
        status, lease = daemon.call("PUT", "sys/leases/lookup", {"lease_id": f"auth/token/create/{key}"}, token=token)
        assert status == 200 and lease["data"]["ttl"] > 0, lease
    return len(body["data"]["keys"])


def test_kill_9_at_random_points_loses_nothing_acknowledged(fault_daemons: FaultDaemons) -> None:
    rng = random.Random(SEED)
    print(f"kill -9 rounds: SEALER_FAULT_SEED={SEED}")
    daemon = fault_daemons.make()
    token = root_token(daemon)
    assert daemon.call("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "2"}}, token=token)[0] == 204
    # Keep every version (the default keeps 10), so that each acknowledged one can be read back at the end.
    assert daemon.call("POST", "kv/config", {"max_versions": 10_000}, token=token)[0] == 204
    everything = Acknowledged()
    first = 0
    for round_number in range(ROUNDS):
        kill_after = rng.randint(1, 24)
        load = kill_under_load(daemon, token, first, kill_after)
        print(f"round {round_number}: killed after {load.acked.count()} acknowledged (aimed at {kill_after})")
        first = load.next_number + 1

        daemon.start(wait_for="unsealed")
        assert_nothing_lost(daemon, token, load.acked)
        everything.kv1.update(load.acked.kv1)
        everything.kv2.update(load.acked.kv2)
        everything.tokens += load.acked.tokens
        everything.renewed += load.acked.renewed

    assert_nothing_lost(daemon, token, everything)
    assert token_leases(daemon, token) >= len(everything.tokens)
    assert everything.count() >= ROUNDS
