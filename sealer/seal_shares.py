"""Share arithmetic the seal manager applies at init and rekey, with Vault's rules and conventions."""

from __future__ import annotations

from engine.crypto import shamir
from engine.errors import BadRequest

KEY_LENGTH = 32


def check_counts(shares: int, threshold: int, what: str) -> None:
    if shares < 1:
        raise BadRequest(f"{what} shares must be at least 1")
    if shares > 255:
        raise BadRequest(f"{what} shares cannot be more than 255 (got {shares})")
    if threshold < 1:
        raise BadRequest(f"{what} threshold must be at least 1")
    if threshold > shares:
        raise BadRequest(f"{what} threshold ({threshold}) cannot be larger than the number of shares ({shares})")
    if shares > 1 and threshold < 2:
        raise BadRequest(f"{what} threshold must be at least 2 when there is more than one share")


def split(secret: bytes, shares: int, threshold: int) -> list[bytes]:
    # Vault's convention: a single share is the key itself.
    return [secret] if shares == 1 else shamir.split(secret, shares, threshold)


def combine(shares: list[bytes], count: int) -> bytes:
    if count == 1:
        return shares[0]
    try:
        return shamir.combine(shares)
    except shamir.ShamirError as exc:
        raise BadRequest(f"the unseal keys cannot be combined: {exc}; unseal progress was reset") from None


def share_length(shares: int) -> int:
    return KEY_LENGTH if shares == 1 else KEY_LENGTH + 1
