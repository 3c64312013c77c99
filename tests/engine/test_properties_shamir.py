"""Shamir (engine/crypto/shamir.py), for any secret, share count and threshold: any `threshold` shares
or more, in any order, recover the secret; fewer recover something else (or are refused), so they
reveal nothing a holder could check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.crypto.shamir import ShamirError, combine, split
from tests.engine.properties import PROPERTY


@st.composite
def splits(draw: st.DrawFn, min_secret: int = 1) -> tuple[bytes, int, list[bytes]]:
    secret = draw(st.binary(min_size=min_secret, max_size=64))
    parts = draw(st.integers(min_value=2, max_value=12))
    threshold = draw(st.integers(min_value=2, max_value=parts))
    return secret, threshold, split(secret, parts, threshold)


@PROPERTY
@given(splits(), st.data())
def test_any_threshold_subset_in_any_order_recovers_the_secret(
    made: tuple[bytes, int, list[bytes]], data: st.DataObject
) -> None:
    secret, threshold, shares = made
    size = data.draw(st.integers(min_value=threshold, max_value=len(shares)), label="subset size")
    subset = data.draw(st.permutations(shares), label="order")[:size]
    assert combine(subset) == secret


@PROPERTY
@given(splits(min_secret=16), st.data())
def test_fewer_shares_than_the_threshold_recover_something_else(
    made: tuple[bytes, int, list[bytes]], data: st.DataObject
) -> None:
    secret, threshold, shares = made
    subset = data.draw(st.permutations(shares), label="order")[: threshold - 1]
    if len(subset) < 2:
        with pytest.raises(ShamirError):
            combine(subset)
        return
    # Each byte of the result is uniform and independent of the secret: equal by chance with
    # probability 2^-128 for a 16-byte secret.
    assert combine(subset) != secret
    assert len(combine(subset)) == len(secret)


@PROPERTY
@given(splits(), st.data())
def test_a_share_given_twice_is_refused(made: tuple[bytes, int, list[bytes]], data: st.DataObject) -> None:
    _, _, shares = made
    twice = data.draw(st.sampled_from(shares))
    with pytest.raises(ShamirError, match="duplicate"):
        combine([twice, *shares])
