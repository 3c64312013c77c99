"""User lockout (Vault 1.13+, docs/concepts/user-lockout): after `lockout_threshold` failed logins, each
within `lockout_counter_reset` of the previous one, a user is refused for `lockout_duration` without
its credentials even being checked, with Vault's "permission denied". A successful login resets the
count. Defaults 5 attempts, 15 minutes, 15 minutes; an auth mount tunes them through sys/auth/<path>/tune
`user_lockout_config` (a 0 keeps the default), or turns lockout off with `lockout_disable`.

Only failures of users that exist are counted (as Vault does), so unknown names cost no storage. The
record lives in the mount's own storage under a hash of the name, so it survives restarts and goes
with the mount. Logins of one user are serialised: concurrent guesses cannot overtake the count.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from engine.errors import PermissionDenied
from engine.mounts import MountEntry
from engine.storage.base import Storage
from engine.tokens import Clock

DEFAULT_THRESHOLD = 5
DEFAULT_DURATION = 15 * 60
DEFAULT_COUNTER_RESET = 15 * 60

PREFIX = "lockout/"


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = DEFAULT_THRESHOLD
    duration: int = DEFAULT_DURATION
    counter_reset: int = DEFAULT_COUNTER_RESET
    disabled: bool = False

    @classmethod
    def for_mount(cls, mount: MountEntry) -> LockoutPolicy:
        tuned = mount.config.user_lockout_config or {}
        return cls(
            threshold=int(tuned.get("lockout_threshold") or DEFAULT_THRESHOLD),
            duration=int(tuned.get("lockout_duration") or DEFAULT_DURATION),
            counter_reset=int(tuned.get("lockout_counter_reset") or DEFAULT_COUNTER_RESET),
            disabled=bool(tuned.get("lockout_disable", False)),
        )


class Lockout:
    def __init__(self, mount: MountEntry, clock: Clock) -> None:
        self._mount = mount  # read at each login: a tune takes effect at once
        self._clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def attempt(self, storage: Storage, alias: str) -> AsyncIterator[LoginAttempt]:
        """One login of `alias`: refused at once if locked; the body reports `failed()` (for a user that
        exists) or `succeeded()`."""
        lock = self._locks.get(alias)
        if lock is None:
            lock = self._locks[alias] = asyncio.Lock()
        async with lock:
            attempt = LoginAttempt(self, storage, _key(alias), LockoutPolicy.for_mount(self._mount))
            await attempt.refuse_if_locked()
            yield attempt

    def now(self) -> int:
        return int(self._clock().timestamp())


class LoginAttempt:
    def __init__(self, lockout: Lockout, storage: Storage, key: str, policy: LockoutPolicy) -> None:
        self._lockout = lockout
        self._storage = storage
        self._key = key
        self._policy = policy

    async def _record(self) -> tuple[int, int] | None:
        raw = await self._storage.get(self._key)
        if raw is None:
            return None
        record = json.loads(raw)
        return int(record["count"]), int(record["last_failed"])

    async def refuse_if_locked(self) -> None:
        if self._policy.disabled:
            return
        record = await self._record()
        if record is None:
            return
        count, last_failed = record
        if count >= self._policy.threshold and self._lockout.now() - last_failed < self._policy.duration:
            raise PermissionDenied()

    async def failed(self) -> None:
        if self._policy.disabled:
            return
        now = self._lockout.now()
        record = await self._record()
        count = 1
        if record is not None and now <= record[1] + self._policy.counter_reset:
            count = record[0] + 1
        await self._storage.put(self._key, json.dumps({"count": count, "last_failed": now}).encode())

    async def succeeded(self) -> None:
        # Read first: nearly every login has no record, and a delete would cost each one a durable write
        # (made one at a time, under the user's lock).
        if await self._storage.get(self._key) is not None:
            await self._storage.delete(self._key)


def _key(alias: str) -> str:
    # A hash, not the name: role IDs are credentials and must not appear in storage keys.
    return PREFIX + hashlib.sha256(alias.encode()).hexdigest()
