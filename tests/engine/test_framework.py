"""The path-table framework: matching (404 vs 405), typed fields, warnings, existence checks."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import BadRequest, EngineError, NotFound, UnsupportedOperation
from engine.framework import Backend, Field, FieldData, FieldType, Path, parse_duration
from engine.request import Op, Request, Response
from engine.storage.base import Storage
from engine.storage.memory import MemoryStorage


class Echo(Backend):
    """Answers with the parsed fields, so tests can see exactly what a handler receives."""

    def __init__(self) -> None:
        self.paths = [
            Path(
                r"keys/(?P<name>[\w-]+)",
                fields={
                    "ttl": Field(FieldType.DURATION),
                    "count": Field(FieldType.INT, default=3),
                    "flag": Field(FieldType.BOOL),
                    "tags": Field(FieldType.LIST),
                    "config": Field(FieldType.MAP),
                    "meta": Field(FieldType.KV_PAIRS),
                    "note": Field(FieldType.STRING),
                },
                operations={Op.READ: self.echo, Op.UPDATE: self.echo},
            ),
            Path(r"keys/(?P<name>[\w-]+)/rotate", operations={Op.UPDATE: self.nothing}),
            Path(
                r"items/(?P<item>.+)",
                operations={Op.CREATE: self.echo, Op.UPDATE: self.echo},
                existence_check=self.exists,
            ),
            Path(
                "needs",
                fields={"x": Field(FieldType.STRING, required=True)},
                operations={Op.READ: self.echo},
            ),
        ]

    async def echo(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        names = [name for name in data.schema]
        return Response(data={name: data.get(name) for name in names} | {"op": req.op.value})

    async def nothing(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return None

    async def exists(self, req: Request, data: FieldData, storage: Storage) -> bool:
        return data.get("item") == "present"


async def call(op: Op, path: str, data: dict[str, Any] | None = None) -> Response | None:
    return await Echo().handle(Request(op, path, data or {}), MemoryStorage())


async def fields(path: str = "keys/a", **data: Any) -> dict[str, Any]:
    response = await call(Op.UPDATE, path, data)
    assert response is not None and response.data is not None
    return response.data


async def test_no_matching_pattern_is_404_unsupported_path() -> None:
    with pytest.raises(NotFound) as caught:
        await call(Op.READ, "nothing/here")
    assert caught.value.status == 404 and caught.value.message == "unsupported path"


async def test_pattern_match_without_the_operation_is_405() -> None:
    with pytest.raises(UnsupportedOperation) as caught:
        await call(Op.DELETE, "keys/a")
    assert caught.value.status == 405 and caught.value.message == "unsupported operation"


async def test_patterns_are_anchored_at_both_ends() -> None:
    with pytest.raises(NotFound):
        await call(Op.READ, "xkeys/a")
    with pytest.raises(NotFound):
        await call(Op.READ, "keys/a/b")  # [\w-]+ cannot swallow the slash, and no other path matches


async def test_captures_become_fields_and_defaults_apply() -> None:
    data = await fields("keys/my-key")
    assert data == {
        "name": "my-key",
        "ttl": 0,
        "count": 3,
        "flag": False,
        "tags": [],
        "config": {},
        "meta": {},
        "note": "",
        "op": "update",
    }


async def test_field_types_are_parsed() -> None:
    data = await fields(
        ttl="1h30m", count="42", flag="true", tags="a, b,,c", config='{"k": 1}', meta=["x=1", "y=2"], note=7
    )
    assert data["ttl"] == 5400
    assert data["count"] == 42
    assert data["flag"] is True
    assert data["tags"] == ["a", "b", "c"]
    assert data["config"] == {"k": 1}
    assert data["meta"] == {"x": "1", "y": "2"}
    assert data["note"] == "7"  # numbers are weakly decoded into strings, as Vault does


async def test_json_lists_and_maps_are_accepted_as_sent() -> None:
    data = await fields(tags=["a", " b "], meta={"k": 5}, flag=1, count=2.0)
    assert data["tags"] == ["a", "b"]
    assert data["meta"] == {"k": "5"}
    assert data["flag"] is True
    assert data["count"] == 2


async def test_null_counts_as_not_supplied() -> None:
    data = await fields(count=None, config=None, note=None)
    assert data["count"] == 3 and data["config"] == {} and data["note"] == ""


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ttl", "abc", "field 'ttl': expected a duration, got 'abc'"),
        ("ttl", "-5", "field 'ttl': expected a duration, got '-5'"),
        ("count", "x1", "field 'count': expected an int, got 'x1'"),
        ("count", 1.5, "field 'count': expected an int, got '1.5'"),
        ("flag", "maybe", "field 'flag': expected a bool, got 'maybe'"),
        ("config", "[1]", "field 'config': expected a map, got '[1]'"),
        ("tags", {"a": 1}, "field 'tags': expected a list, got '{\"a\": 1}'"),
        ("meta", ["novalue"], "field 'meta': expected a map of strings, got '[\"novalue\"]'"),
        ("note", {"a": 1}, "field 'note': expected a string, got '{\"a\": 1}'"),
    ],
)
async def test_a_wrong_type_is_400_naming_the_field(name: str, value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await fields(**{name: value})
    assert caught.value.status == 400 and caught.value.message == message


async def test_required_field_missing_is_400() -> None:
    with pytest.raises(BadRequest, match="field 'x': missing required field"):
        await call(Op.READ, "needs")
    response = await call(Op.READ, "needs", {"x": "given"})
    assert response is not None and response.data == {"x": "given", "op": "read"}


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (30, 30),
        ("30", 30),
        ("", 0),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m15s", 5415),
        ("1.5h", 5400),
        ("1500ms", 1),
        (90.9, 90),
    ],
)
def test_duration_parsing(raw: Any, seconds: int) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["abc", "5x", "1h x", "-1m", -3, True, [1], "h"])
def test_invalid_durations(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(raw)


async def test_unknown_parameters_are_ignored_with_vaults_warning() -> None:
    response = await call(Op.UPDATE, "keys/a", {"zeta": 1, "alpha": 2, "count": 1})
    assert response is not None
    assert response.warnings == ["Endpoint ignored these unrecognized parameters: [alpha zeta]"]
    assert response.data is not None and "zeta" not in response.data


async def test_a_url_capture_wins_over_the_body_with_a_warning() -> None:
    response = await call(Op.UPDATE, "keys/from-url", {"name": "from-body"})
    assert response is not None and response.data is not None
    assert response.data["name"] == "from-url"
    assert response.warnings == [
        "Endpoint replaced the value of these parameters with the values captured from the endpoint's "
        "path: [name]"
    ]


async def test_no_warning_on_an_empty_answer() -> None:
    assert await call(Op.UPDATE, "keys/a/rotate", {"unknown": 1}) is None


async def test_existence_check_reports_per_path() -> None:
    storage = MemoryStorage()
    backend = Echo()
    assert await backend.existence(Request(Op.UPDATE, "items/present"), storage) is True
    assert await backend.existence(Request(Op.UPDATE, "items/absent"), storage) is False
    assert await backend.existence(Request(Op.UPDATE, "keys/a"), storage) is None  # no check defined
    with pytest.raises(NotFound):
        await backend.existence(Request(Op.UPDATE, "nowhere"), storage)


def test_create_without_an_existence_check_is_refused_when_the_table_is_built() -> None:
    async def handler(req: Request, data: FieldData, storage: Storage) -> Response | None:
        return None

    with pytest.raises(ValueError, match="CREATE but no existence check"):
        Path("x", operations={Op.CREATE: handler})


async def test_overlapping_patterns_are_a_reported_bug_not_an_order_dependence() -> None:
    async def handler(req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data={})

    class Overlapping(Backend):
        paths = [
            Path(r"keys/.*", operations={Op.READ: handler}),
            Path(r"keys/a", operations={Op.READ: handler}),
        ]

    with pytest.raises(EngineError, match="ambiguous route") as caught:
        await Overlapping().handle(Request(Op.READ, "keys/a"), MemoryStorage())
    assert caught.value.status == 500
    assert await Overlapping().handle(Request(Op.READ, "keys/b"), MemoryStorage()) is not None


def test_field_defaults_are_not_shared_between_requests() -> None:
    schema = {"tags": Field(FieldType.LIST, default=["x"])}
    first = FieldData({}, schema)
    first.get("tags").append("mutated")
    assert FieldData({}, schema).get("tags") == ["x"]
    assert first.get_ok("tags")[1] is False
    assert FieldData({"tags": "a"}, schema).get_ok("tags") == (["a"], True)
