"""A client writing numbered KV v1 secrets as fast as it can, remembering which writes were acknowledged,
so a test can kill the daemon (or its active node) mid-load and then check that none of them was lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.e2e.daemon import Daemon, request


class WriteLoad:
    def __init__(self, address: str, token: str, *, keep_going: bool = False) -> None:
        """`keep_going`: carry on through connection errors (a standby that outlives the active) instead of
        stopping at the first one (the daemon itself was killed)."""
        self.address = address
        self.token = token
        self.keep_going = keep_going
        self.acknowledged: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write)

    def _write(self) -> None:
        number = 0
        while not self._stop.is_set():
            try:
                status, _ = request("PUT", f"{self.address}/v1/secret/load/{number}", {"n": number}, self.token)
            except OSError:
                if not self.keep_going:
                    return
                status = 0
            if status == 204:
                self.acknowledged.append(number)
            number += 1

    @contextmanager
    def running(self) -> Iterator[WriteLoad]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)

    def assert_none_lost(self, daemon: Daemon) -> None:
        for number in self.acknowledged:
            status, body = daemon.call("GET", f"secret/load/{number}", token=self.token)
            assert status == 200, f"acknowledged write {number} lost"
            assert body["data"] == {"n": number}
