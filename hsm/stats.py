"""Counts and total time of the calls into PKCS#11 modules, per operation, for the daemon's metrics.

Process-wide, like the modules themselves (module.py): every Hsm of the process adds to the same
counts. Plain numbers, no metrics library: the daemon turns a snapshot into whatever it exports.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class OperationStats:
    calls: int = 0
    failures: int = 0  # raised, or did not finish within the call timeout
    seconds: float = 0.0  # total, counted from submission (time queued behind earlier calls included)


class CallStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # operation -> [calls, failures, seconds]: added to in place (a frozen record per call cost more
        # than the call's own bookkeeping in the keys process's hot path).
        self._by_operation: dict[str, list[float]] = {}

    def record(self, operation: str, seconds: float, *, failed: bool) -> None:
        with self._lock:
            counts = self._by_operation.get(operation)
            if counts is None:
                counts = self._by_operation[operation] = [0, 0, 0.0]
            counts[0] += 1
            counts[1] += failed
            counts[2] += seconds

    def snapshot(self) -> dict[str, OperationStats]:
        with self._lock:
            return {
                operation: OperationStats(int(calls), int(failures), seconds)
                for operation, (calls, failures, seconds) in self._by_operation.items()
            }


CALL_STATS = CallStats()
