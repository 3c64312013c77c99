"""JSON merge patch as RFC 7386 defines it: the test cases of its Appendix A."""

from __future__ import annotations

from typing import Any

import pytest

from engine.backends.kv_v2.merge_patch import merge_patch


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc7386_appendix_a(original: Any, patch: Any, result: Any) -> None:
    assert merge_patch(original, patch) == result


def test_neither_input_is_modified() -> None:
    original = {"a": {"b": 1}}
    patch = {"a": {"c": [1]}}
    merged = merge_patch(original, patch)
    merged["a"]["c"].append(2)
    assert original == {"a": {"b": 1}} and patch == {"a": {"c": [1]}}
