"""What happens to a lease whose revocation failed (Vault's revocationJob.OnFailure): it is never
dropped. The attempt and the error are recorded and it is tried again after an exponential backoff;
after Vault's six attempts, or at once when no retry can help, it is marked irrevocable (logged at
ERROR, counted by sys/leases/count) and still tried once a day, until it goes or is force-revoked."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.errors import BadRequest, NotFound, UnsupportedOperation
from engine.expiration.entry import MAX_ERROR_LENGTH, LeaseEntry

log = logging.getLogger("engine.expiration")

MAX_REVOKE_ATTEMPTS = 6  # Vault's maxRevokeAttempts
REVOKE_RETRY_BASE = 10.0  # seconds; Vault's revokeRetryBase
IRREVOCABLE_RETRY = 24 * 3600  # Vault retries irrevocable leases daily


class RevocationFailed(BadRequest):
    """A backend (or the token store) could not revoke; the cause decides whether to retry."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"failed to revoke entry: {describe(cause)}")
        # Vault's errIsUnrecoverable: retrying cannot help when the path or operation is unsupported.
        self.unrecoverable = isinstance(cause, NotFound | UnsupportedOperation | BadRequest)
        # Set once the attempt is recorded on the lease (and its retry scheduled): a caller that joined
        # this revocation (see in_flight.py) then has nothing left to do about it.
        self.recorded = False


@dataclass(frozen=True)
class RetryPolicy:
    base: float = REVOKE_RETRY_BASE
    max_attempts: int = MAX_REVOKE_ATTEMPTS
    jitter: Callable[[], float] = field(default=random.random, repr=False)  # in [0, 1)

    def record(self, entry: LeaseEntry, failure: RevocationFailed, now: datetime) -> None:
        """Note the failed attempt on `entry` and set when to try next."""
        entry.revoke_attempts += 1
        entry.revoke_error = failure.message[:MAX_ERROR_LENGTH]
        if entry.revoke_attempts >= self.max_attempts or failure.unrecoverable:
            if entry.revoke_attempts >= self.max_attempts:
                entry.revoke_error = f"out of retries: {failure.message}"[:MAX_ERROR_LENGTH]
            if not entry.irrevocable:
                log.error(
                    "lease is irrevocable, retried daily until revoked or force-revoked: lease_id=%s attempts=%d "
                    "error=%s", entry.lease_id, entry.revoke_attempts, entry.revoke_error,
                )
            entry.irrevocable = True
            delay = IRREVOCABLE_RETRY
        else:
            # Vault's revokeExponentialBackoff: base * 2^attempt, spread over +-50%; whole seconds.
            delay = math.ceil(self.base * (1 << entry.revoke_attempts) * (0.5 + self.jitter()))
            log.error(
                "failed to revoke lease: lease_id=%s attempts=%d next_attempt_in=%ds error=%s",
                entry.lease_id, entry.revoke_attempts, delay, entry.revoke_error,
            )
        entry.next_revoke_time = now.timestamp() + delay


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
