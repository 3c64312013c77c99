"""Named points in the seal's multi-step operations where the tests kill the daemon.

`SEALER_TEST_CRASH_AT=<name>` (set only by tests) makes the process SIGKILL itself when it reaches
that point: a real kill -9 of the real process, at a chosen step, so the tests can restart it and
prove the store still unseals. Unset (always, outside tests), a crash point does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

CRASH_ENV = "SEALER_TEST_CRASH_AT"

log = logging.getLogger("sealer.seal")


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) != name:
        return
    log.warning("test crash point '%s' reached: killing this process (SIGKILL)", name)
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
