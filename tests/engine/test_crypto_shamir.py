"""Shamir secret sharing: Vault share compatibility, round trips, refusals and the field arithmetic."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.crypto import shamir
from engine.crypto.shamir import ShamirError, combine, split

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "vault-shamir-vectors.json").read_text()
)["vectors"]

# Above this many subsets, a seeded random sample of this size stands in for all of them.
EXHAUSTIVE_LIMIT = 2000


def subsets(items: list[bytes], size: int, seed: int) -> Iterator[tuple[bytes, ...]]:
    """Every `size`-subset of `items`, or a large reproducible sample when there are too many."""
    if math.comb(len(items), size) <= EXHAUSTIVE_LIMIT:
        yield from itertools.combinations(items, size)
        return
    rng = random.Random(seed)
    seen: set[tuple[int, ...]] = set()
    while len(seen) < EXHAUSTIVE_LIMIT:
        picked = tuple(sorted(rng.sample(range(len(items)), size)))
        if picked not in seen:
            seen.add(picked)
            yield tuple(items[i] for i in picked)


def vector_id(vector: dict[str, Any]) -> str:
    return f"{vector['parts']}of{vector['threshold']}-{len(vector['secret_hex']) // 2}B"


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_vault_shares_combine_from_every_threshold_subset(vector: dict[str, Any]) -> None:
    secret = bytes.fromhex(vector["secret_hex"])
    shares = [bytes.fromhex(s) for s in vector["shares_hex"]]
    assert len(shares) == vector["parts"]
    checked = 0
    for subset in subsets(shares, vector["threshold"], seed=vector["parts"]):
        assert combine(list(subset)) == secret
        checked += 1
    assert checked == min(math.comb(vector["parts"], vector["threshold"]), EXHAUSTIVE_LIMIT)


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_vault_shares_in_any_order_and_beyond_threshold_combine(vector: dict[str, Any]) -> None:
    secret = bytes.fromhex(vector["secret_hex"])
    shares = [bytes.fromhex(s) for s in vector["shares_hex"]]
    rng = random.Random(vector["parts"])
    for _ in range(5):
        count = rng.randint(vector["threshold"], min(vector["parts"], vector["threshold"] + 3))
        assert combine(rng.sample(shares, count)) == secret


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_fewer_vault_shares_than_threshold_do_not_yield_the_secret(vector: dict[str, Any]) -> None:
    secret = bytes.fromhex(vector["secret_hex"])
    shares = [bytes.fromhex(s) for s in vector["shares_hex"]]
    below = vector["threshold"] - 1
    if below < 2:
        with pytest.raises(ShamirError, match="less than two parts"):
            combine(shares[:below])
        return
    checked = 0
    for subset in subsets(shares, below, seed=vector["parts"] + 1):
        assert combine(list(subset)) != secret
        checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    ("parts", "threshold"), [(2, 2), (3, 2), (5, 3), (10, 10), (255, 2), (255, 17), (40, 39)]
)
def test_split_then_combine_any_threshold_subset(parts: int, threshold: int) -> None:
    secret = random.Random(parts * 1000 + threshold).randbytes(32)
    shares = split(secret, parts, threshold)
    assert len(shares) == parts
    rng = random.Random(threshold)
    for _ in range(20):
        assert combine(rng.sample(shares, threshold)) == secret
    if threshold > 2:
        assert combine(rng.sample(shares, threshold - 1)) != secret


@pytest.mark.parametrize("size", [1, 2, 16, 33, 64, 1000])
def test_share_layout_is_y_bytes_then_a_distinct_nonzero_x(size: int) -> None:
    secret = bytes(range(256)) * 4
    shares = split(secret[:size], 255, 3)
    assert {len(share) for share in shares} == {size + 1}
    xs = [share[-1] for share in shares]
    assert sorted(xs) == list(range(1, 256))
    assert combine(shares[:3]) == secret[:size]


def test_split_is_randomised() -> None:
    secret = b"\x00" * 32
    first, second = split(secret, 5, 3), split(secret, 5, 3)
    assert first != second
    # The y bytes are not the secret, even for an all-zero secret.
    assert all(share[:-1] != secret for share in first)


def test_x_coordinates_are_random_as_in_vault() -> None:
    layouts = {tuple(share[-1] for share in split(b"secret", 5, 3)) for _ in range(20)}
    assert len(layouts) > 1
    assert all(len(set(xs)) == 5 and 0 not in xs for xs in layouts)


def test_every_share_by_itself_is_not_the_secret() -> None:
    secret = b"correct horse battery staple"
    for share in split(secret, 5, 2):
        assert secret not in share


@pytest.mark.parametrize(
    ("secret", "parts", "threshold", "message"),
    [
        (b"s", 2, 3, "parts cannot be less than threshold"),
        (b"s", 256, 3, "parts cannot exceed 255"),
        (b"s", 3, 1, "threshold must be at least 2"),
        (b"s", 3, 0, "threshold must be at least 2"),
        (b"s", 256, 256, "parts cannot exceed 255"),
        (b"", 3, 2, "cannot split an empty secret"),
    ],
)
def test_split_refuses_bad_parameters(secret: bytes, parts: int, threshold: int, message: str) -> None:
    with pytest.raises(ShamirError, match=message):
        split(secret, parts, threshold)


def test_shamir_error_is_a_value_error() -> None:
    assert issubclass(ShamirError, ValueError)


def test_combine_refusals() -> None:
    shares = split(b"secret", 3, 2)
    with pytest.raises(ShamirError, match="less than two parts"):
        combine([])
    with pytest.raises(ShamirError, match="less than two parts"):
        combine(shares[:1])
    with pytest.raises(ShamirError, match="at least two bytes"):
        combine([b"\x01", b"\x02"])
    with pytest.raises(ShamirError, match="same length"):
        combine([shares[0], shares[1] + b"\x00"])
    with pytest.raises(ShamirError, match="duplicate part"):
        combine([shares[0], shares[0]])
    # Same x coordinate, different y: still a duplicate, not a division by zero.
    with pytest.raises(ShamirError, match="duplicate part"):
        combine([shares[0], bytes([shares[0][0] ^ 1]) + shares[0][1:]])


def _reference_mul(a: int, b: int) -> int:
    """Textbook shift-and-add multiplication modulo 0x11B."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


def test_field_multiplication_matches_the_aes_field() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir._mul(a, b) == _reference_mul(a, b)


def test_field_inverse() -> None:
    for a in range(1, 256):
        assert shamir._mul(a, shamir._inverse(a)) == 1


def test_lane_multiplication_agrees_with_scalar_multiplication() -> None:
    rng = random.Random(7)
    data = rng.randbytes(64)
    lanes = shamir._Lanes(len(data))
    packed = int.from_bytes(data, "big")
    for scalar in [0, 1, 2, 0x53, 0x80, 0xFF, *rng.sample(range(256), 10)]:
        expected = bytes(_reference_mul(byte, scalar) for byte in data)
        assert lanes.mul(packed, scalar).to_bytes(len(data), "big") == expected
