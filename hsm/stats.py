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
        self._by_operation: dict[str, OperationStats] = {}

    def record(self, operation: str, seconds: float, *, failed: bool) -> None:
        with self._lock:
            old = self._by_operation.get(operation, OperationStats())
            self._by_operation[operation] = OperationStats(
                old.calls + 1, old.failures + int(failed), old.seconds + seconds
            )

    def snapshot(self) -> dict[str, OperationStats]:
        with self._lock:
            return dict(self._by_operation)


CALL_STATS = CallStats()
