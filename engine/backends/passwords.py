"""Password hashing for auth methods (userpass): argon2id through argon2-cffi, a well-kept library,
never a hand-rolled KDF.

Parameters are OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 50 ms a hash, comparable to the
bcrypt cost Vault uses, and a hash records its own parameters so they can be raised later without
breaking stored users. Hashing runs in a worker thread (argon2 releases the GIL) so a login does not
stall the event loop.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1


class PasswordHasher:
    def __init__(self, argon2: _Argon2 | None = None) -> None:
        self._argon2 = argon2 or _Argon2(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)
        self._dummy: str | None = None

    def __repr__(self) -> str:
        return "PasswordHasher(argon2id)"

    async def hash(self, password: str) -> str:
        """An encoded argon2id hash (salt and parameters included) of `password`."""
        return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`. With `stored` None (no such user) a dummy hash is checked
        instead, so an unknown user costs the same work as a wrong password."""
        dummy = await self._dummy_hash()
        try:
            matched = await asyncio.to_thread(self._argon2.verify, stored or dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and stored is not None

    async def _dummy_hash(self) -> str:
        # Made on the first verification of any user, known or not: the one-off cost reveals nothing.
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self._argon2.hash, secrets.token_urlsafe(32))
        return self._dummy
