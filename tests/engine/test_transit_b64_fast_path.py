"""Transit's base64 (Go's decoder, with Go's error offsets) takes Python's decoder for canonical input:
both ways agree on every input, valid or not."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from engine.backends.transit import b64
from engine.backends.transit.b64 import _STD_MAP, Base64Error, _decode

SYMBOLS = st.sampled_from([*"ABCabc019+/=\n\r-_ ", "é"])


def _go_way(text: str) -> bytes | int:
    try:
        return _decode(text.encode(), _STD_MAP, padded=True)
    except Base64Error as error:
        return error.offset


def _fast_way(text: str) -> bytes | int:
    try:
        return b64.decode(text)
    except Base64Error as error:
        return error.offset


@given(st.binary(max_size=64))
def test_canonical_input_decodes_the_same(data: bytes) -> None:
    text = base64.b64encode(data).decode()
    assert _fast_way(text) == _go_way(text) == data


@given(st.lists(SYMBOLS, max_size=24).map("".join))
def test_any_input_gets_the_same_bytes_or_the_same_error(text: str) -> None:
    assert _fast_way(text) == _go_way(text)


@given(st.binary(min_size=1, max_size=48), st.integers(min_value=0, max_value=200), SYMBOLS)
def test_a_changed_symbol_gets_the_same_answer(data: bytes, where: int, symbol: str) -> None:
    text = base64.b64encode(data).decode()
    where %= len(text)
    changed = text[:where] + symbol + text[where + 1:]
    assert _fast_way(changed) == _go_way(changed)
