"""The one JSON encoder: orjson, and the standard library with the same options for what orjson refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from engine.json_bytes import compact_json, stdlib_json

VALUE = {"b": [1, 2.5, None, True], "a": "\u00e9\u2028", "t": datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)}


def test_both_encoders_write_the_same_bytes() -> None:
    for sort_keys in (False, True):
        assert compact_json(VALUE, sort_keys=sort_keys) == stdlib_json(VALUE, sort_keys=sort_keys)
    assert compact_json(VALUE, sort_keys=True).startswith(b'{"a":"\xc3\xa9')
    assert json.loads(compact_json(VALUE))["t"] == "2030-01-01T12:00:00.123456+00:00"


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    value = {"z": 2**70, "a": -(2**65)}
    assert compact_json(value, sort_keys=True) == b'{"a":-36893488147419103232,"z":1180591620717411303424}'
    assert json.loads(compact_json(value)) == value
