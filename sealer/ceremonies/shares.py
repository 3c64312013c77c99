"""Shares as a ceremony collects them: one attempt's progress, the public index of a share, and the
split of a new key into the shares people will hold (Vault's convention: a single share is the key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine.crypto import ShamirError, combine, constant_time_equal, split
from engine.errors import BadRequest
from sealer.ceremonies import journal

KEY_LENGTH = 32
# A Shamir share is the key's length plus one byte: its x coordinate, which is public.
SHARE_LENGTH = KEY_LENGTH + 1


@dataclass
class ShareCollector:
    """The shares offered towards one attempt, in memory only."""

    shares: list[bytes] = field(default_factory=list, repr=False)

    @property
    def count(self) -> int:
        return len(self.shares)

    def add(self, share: bytes, expected_length: int, operation: str) -> None:
        """Record a share; a malformed or repeated one is refused and the progress stays as it was."""
        if len(share) != expected_length:
            raise BadRequest(
                f"key has the wrong length: expected {expected_length} bytes, got {len(share)}; progress unchanged"
            )
        if any(constant_time_equal(share, seen) for seen in self.shares):
            raise BadRequest(f"given key has already been provided during this {operation} operation")
        self.shares.append(share)

    def take(self) -> list[bytes]:
        """The shares collected, forgetting them: whatever happens next, the attempt starts over."""
        taken, self.shares = self.shares, []
        return taken

    def clear(self) -> None:
        self.shares = []


def collect(
    kind: str,
    expected_nonce: str,
    operation: str,
    collector: ShareCollector,
    share: bytes,
    nonce: str,
    *,
    length: int,
    threshold: int,
    duplicate_operation: str,
) -> int:
    """One share offered to a ceremony step, checked against the step's nonce and added to its
    progress, every outcome journaled; the progress count after it. `operation` names the step in the
    wrong-nonce error, `duplicate_operation` in the repeated-share one (Vault words them differently)."""
    if nonce != expected_nonce:
        journal.step(kind, expected_nonce, "refused a share: wrong nonce")
        raise BadRequest(f'incorrect nonce supplied; nonce for this {operation} operation is "{expected_nonce}"')
    try:
        collector.add(share, length, duplicate_operation)
    except BadRequest as exc:
        journal.step(kind, expected_nonce, f"refused a share: {exc.message}",
                     progress=journal.progress(collector.count, threshold))
        raise
    journal.step(kind, expected_nonce, f"accepted {describe(share)}",
                 progress=journal.progress(collector.count, threshold))
    return collector.count


async def prove(offered: list[bytes], key_from_shares: Callable[[list[bytes]], Awaitable[bytes]]) -> bytes:
    """The key a threshold of the current shares rebuilds, or BadRequest when they do not rebuild it."""
    if not combinable(offered):
        raise BadRequest("the shares do not combine (two of them carry the same index)")
    return await key_from_shares(offered)


def share_index(share: bytes) -> int | None:
    """The x coordinate of a Shamir share (its last byte, public by design), for the log. A key given
    whole (one share of one) has no index, and none of its bytes may be logged."""
    return share[-1] if len(share) == SHARE_LENGTH else None


def describe(share: bytes) -> str:
    index = share_index(share)
    return f"share index {index}" if index is not None else "single key share"


def check_counts(shares: int, threshold: int) -> None:
    """Vault's SealConfig.Validate, for the shares a ceremony is about to create."""
    if threshold > shares:
        raise BadRequest("provided threshold greater than the total shares")
    if shares < 1:
        raise BadRequest("invalid seal configuration: shares must be at least one")
    if threshold < 1:
        raise BadRequest("invalid seal configuration: threshold must be at least one")
    if shares > 1 and threshold == 1:
        raise BadRequest("invalid seal configuration: threshold must be greater than one for multiple shares")
    if shares > 255:
        raise BadRequest("invalid seal configuration: shares must be less than 256")


def split_key(key: bytes, shares: int, threshold: int) -> list[bytes]:
    return [key] if shares == 1 else split(key, shares, threshold)


def combinable(shares: list[bytes]) -> bool:
    """Whether these shares combine at all (distinct x coordinates, same length): a set that does not
    is refused before it reaches the seal."""
    if len(shares) == 1:
        return True
    try:
        combine(shares)
    except ShamirError:
        return False
    return True
