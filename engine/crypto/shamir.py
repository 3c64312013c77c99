"""Shamir's secret sharing over GF(2^8), share-compatible with Vault's sdk/helper/shamir.

Each share is the y bytes followed by one x byte; x coordinates are distinct, random and non-zero;
the field is GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B). Each secret byte is
the intercept of its own random polynomial of degree threshold - 1.

Vault loops over the secret byte by byte with a branch-free multiply. Here every byte position is
processed at once: a secret of n bytes is packed into one integer of n 8-bit lanes and multiplied
lane-wise by a scalar. Secret bytes only ever meet shifts, ANDs and XORs, never a table index or a
branch; the scalars are coefficients derived from the x coordinates, which are public (they are
written in clear on every share).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

_REDUCE = 0x1B  # x^8 = x^4 + x^3 + x + 1 in this field
_MAX_PARTS = 255


class ShamirError(ValueError):
    pass


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split `secret` into `parts` shares, any `threshold` of which recover it."""
    if parts < threshold:
        raise ShamirError("parts cannot be less than threshold")
    if parts > _MAX_PARTS:
        raise ShamirError(f"parts cannot exceed {_MAX_PARTS}")
    if threshold < 2:
        raise ShamirError("threshold must be at least 2")
    if threshold > _MAX_PARTS:
        raise ShamirError(f"threshold cannot exceed {_MAX_PARTS}")
    if len(secret) == 0:
        raise ShamirError("cannot split an empty secret")

    size = len(secret)
    lanes = _Lanes(size)
    # coefficients[0] is the secret itself; the others are uniformly random, one byte per lane.
    coefficients = [int.from_bytes(secret, "big")]
    coefficients += [int.from_bytes(secrets.token_bytes(size), "big") for _ in range(threshold - 1)]
    xs = secrets.SystemRandom().sample(range(1, 256), parts)

    shares = []
    for x in xs:
        # Horner's rule, as Vault evaluates it.
        y = coefficients[-1]
        for coefficient in reversed(coefficients[:-1]):
            y = lanes.mul(y, x) ^ coefficient
        shares.append(y.to_bytes(size, "big") + bytes([x]))
    return shares


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret from at least `threshold` shares made by `split` (or by Vault)."""
    if len(shares) < 2:
        raise ShamirError("less than two parts cannot be used to reconstruct the secret")
    share_len = len(shares[0])
    if share_len < 2:
        raise ShamirError("parts must be at least two bytes")
    if any(len(share) != share_len for share in shares):
        raise ShamirError("all parts must be the same length")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise ShamirError("duplicate part detected")

    size = share_len - 1
    lanes = _Lanes(size)
    secret = 0
    for i, share in enumerate(shares):
        # Lagrange basis polynomial i evaluated at x = 0: prod over j != i of x_j / (x_i + x_j).
        numerator, denominator = 1, 1
        for j, x_j in enumerate(xs):
            if j != i:
                numerator = _mul(numerator, x_j)
                denominator = _mul(denominator, xs[i] ^ x_j)
        basis = _mul(numerator, _inverse(denominator))
        secret ^= lanes.mul(int.from_bytes(share[:size], "big"), basis)
    return secret.to_bytes(size, "big")


class _Lanes:
    """GF(2^8) arithmetic on every byte of a packed integer at once."""

    def __init__(self, size: int) -> None:
        self._high = int.from_bytes(b"\x80" * size, "big")
        self._low = int.from_bytes(b"\x7f" * size, "big")

    def _double(self, v: int) -> int:
        # Multiply every lane by x: shift within the lane, reduce the lanes whose top bit fell out.
        return ((v & self._low) << 1) ^ (((v & self._high) >> 7) * _REDUCE)

    def mul(self, v: int, scalar: int) -> int:
        result = 0
        for bit in range(7, -1, -1):
            result = self._double(result) ^ (v & -((scalar >> bit) & 1))
        return result


def _mul(a: int, b: int) -> int:
    """Branch-free multiplication of two field elements (Vault's `mult`)."""
    r = 0
    for bit in range(7, -1, -1):
        r = (-((b >> bit) & 1) & a) ^ (-(r >> 7) & _REDUCE) ^ ((r << 1) & 0xFF)
    return r


def _inverse(a: int) -> int:
    """a^254 = a^-1 by a fixed addition chain (Vault's `inverse`); a must be non-zero."""
    b = _mul(a, a)
    c = _mul(a, b)
    b = _mul(c, c)
    b = _mul(b, b)
    c = _mul(b, c)
    b = _mul(b, b)
    b = _mul(b, b)
    b = _mul(b, c)
    b = _mul(b, b)
    b = _mul(a, b)
    return _mul(b, b)
