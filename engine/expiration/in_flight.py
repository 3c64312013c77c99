"""At most one revocation of a lease at a time.

Leases are revoked in parallel (expiry's workers, a token's revocation, an operator's revoke), so two
callers can reach the same lease together: a parent token's tree and its child's own expiry both revoke
the child's secrets. The second caller must not call the backend again: it waits for the revocation
already running and shares its outcome (its failure included, raised to it as well).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from engine.errors import EngineError
from engine.expiration.retry import RevocationFailed


class Interrupted(EngineError):
    """The revocation a caller joined was cancelled (the barrier sealing, the daemon stopping)."""

    def __init__(self) -> None:
        super().__init__("the revocation in progress was interrupted")


class InFlight:
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[None]] = {}

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._running

    async def run(self, lease_id: str, revoke: Callable[[], Awaitable[bool]]) -> bool:
        """Run `revoke` for `lease_id` unless a revocation of it is running; then wait for that one.
        Returns what `revoke` returned when this call ran it (True: revoked by this call), False when
        it joined one that succeeded; a joined revocation's failure is raised here too."""
        running = self._running.get(lease_id)
        if running is not None:
            await _join(running)
            return False
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[lease_id] = done
        try:
            revoked = await revoke()
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # marked as retrieved: no joiner is no error
            raise
        except BaseException:
            done.cancel()
            raise
        else:
            done.set_result(None)
        finally:
            del self._running[lease_id]
        return revoked


async def _join(running: asyncio.Future[None]) -> None:
    try:
        # Shielded: a joiner being cancelled must not cancel the revocation it waits for.
        await asyncio.shield(running)
    except asyncio.CancelledError:
        if not running.cancelled():
            raise  # this caller itself is being cancelled
        raise RevocationFailed(Interrupted()) from None
