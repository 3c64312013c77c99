"""sys/internal/specs/openapi: a valid OpenAPI 3 document built from the live mount table, covering every
path and operation the mounted backends route."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis

from engine.openapi import MountedBackend, UnexpressiblePattern, mount_path_items, templates
from engine.request import Op, RawResponse, Request
from tests.engine.token_harness import Engine, start_engine_with_every_mount, stop_engine

SPEC = "sys/internal/specs/openapi"
_METHOD = {Op.READ: "get", Op.UPDATE: "post", Op.CREATE: "post", Op.DELETE: "delete", Op.PATCH: "patch"}


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await start_engine_with_every_mount()
    yield engine
    await stop_engine(engine)


async def document(engine: Engine, token: str | None = None, **query: Any) -> dict[str, Any]:
    response = await engine.core.handle(Request(Op.READ, SPEC, dict(query), client_token=token))
    assert isinstance(response, RawResponse)
    return response.body


def concrete(template: str, parameters: dict[str, str]) -> str:
    """A request path the template stands for: each parameter filled with a value its regex accepts."""
    samples = ["name", "a/b", "internal", "policies"]
    for name in parameters:
        value = next(s for s in samples if re.fullmatch(parameters[name], s))
        template = template.replace("{" + name + "}", value)
    return template


async def test_the_document_is_valid_openapi_3(engine: Engine) -> None:
    doc = await document(engine, engine.root)
    assert doc["openapi"].startswith("3.0")
    schemathesis.openapi.from_dict(doc).validate()  # raises on anything the OpenAPI 3.0 meta-schema refuses
    ids = [op["operationId"] for item in doc["paths"].values() for key, op in item.items() if key in _METHODS]
    assert len(ids) == len(set(ids))


_METHODS = {"get", "post", "delete", "patch", "put"}


async def test_every_routed_path_and_operation_is_described(engine: Engine) -> None:
    doc = await document(engine, engine.root)
    routes = engine.core._serving.mounts.router.routes()  # type: ignore[union-attr]
    assert {r.entry.type for r in routes} >= {"kv", "system", "token", "transit", "pki", "userpass", "approle"}
    checked = 0
    for route in routes:
        for path in route.backend.paths:
            forms = templates(path.pattern)  # raises UnexpressiblePattern: no pattern may be left out
            assert forms, path.pattern
            for form in forms:
                url = "/" + route.entry.path + form.text
                # The template stands for paths the pattern really routes (not just a string we made up).
                assert path.match(concrete(form.text, form.parameters)) is not None, (path.pattern, form)
                for op in path.operations:
                    if op is Op.LIST:
                        item = doc["paths"][url if url.endswith("/") else url + "/"]
                        assert item["get"]["parameters"][0] == {
                            "name": "list", "in": "query", "required": True,
                            "schema": {"type": "string", "enum": ["true"]},
                        }
                    else:
                        assert _METHOD[op] in doc["paths"][url], (url, op)
                    checked += 1
    assert checked > 150


async def test_path_parameters_and_body_fields_come_from_the_table(engine: Engine) -> None:
    doc = await document(engine, engine.root)
    encrypt = doc["paths"]["/transit/encrypt/{name}"]
    (name,) = encrypt["parameters"]
    assert (name["in"], name["required"]) == ("path", True)
    assert re.fullmatch(name["schema"]["pattern"], "orders") and not re.fullmatch(name["schema"]["pattern"], "a/b")
    body = encrypt["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert body["plaintext"]["type"] == "string"
    assert "name" not in body  # captured from the URL, not the body
    assert (body["key_version"]["type"], body["convergent_encryption"]["type"]) == ("integer", "boolean")
    users = doc["paths"]["/auth/userpass/users/{username}"]["post"]
    fields = users["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert fields["token_ttl"]["format"] == "duration"
    assert doc["paths"]["/auth/userpass/login/{username}"]["post"]["x-vault-unauthenticated"] is True
    assert doc["paths"]["/sys/audit/{path}"]["post"]["x-vault-sudo"] is True
    responses = doc["paths"]["/kv2/data/{path}"]["get"]["responses"]
    assert {"200", "204", "400", "403", "404", "405", "500", "503"} <= set(responses)
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Envelope"}


async def test_a_new_mount_appears_and_a_removed_one_goes(engine: Engine) -> None:
    assert not any(p.startswith("/team-kv/") for p in (await document(engine, engine.root))["paths"])
    await engine.call(Op.UPDATE, "sys/mounts/team-kv", {"type": "kv", "options": {"version": "2"}})
    paths = (await document(engine, engine.root))["paths"]
    assert {"/team-kv/data/{path}", "/team-kv/metadata/{path}/", "/team-kv/config"} <= set(paths)
    await engine.call(Op.DELETE, "sys/mounts/team-kv")
    assert not any(p.startswith("/team-kv/") for p in (await document(engine, engine.root))["paths"])


async def test_the_paths_shown_follow_the_tokens_policies(engine: Engine) -> None:
    assert (await document(engine, None))["paths"] == {}
    assert (await document(engine, "not-a-token"))["paths"] == {}
    await engine.policy("transit-only", 'path "transit/*" { capabilities = ["update"] }')
    token = await engine.token(policies=["transit-only"])
    shown = {p.split("/")[1] for p in (await document(engine, token))["paths"]}
    assert "transit" in shown and "kv2" not in shown and "pki" not in shown


async def test_generic_mount_paths_replace_the_mount_with_a_parameter(engine: Engine) -> None:
    paths = (await document(engine, engine.root, generic_mount_paths="true"))["paths"]
    assert "/{transit_mount_path}/encrypt/{name}" in paths
    assert "/auth/{userpass_mount_path}/login/{username}" in paths
    assert "/sys/mounts" in paths and "/auth/token/create" in paths  # singletons keep their path
    params = paths["/{transit_mount_path}/encrypt/{name}"]["parameters"]
    assert [p["name"] for p in params] == ["transit_mount_path", "name"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"keys/?", ["keys"]),
        (r"(?:leases/)?renew(?:/(?P<id>.+))?", ["renew", "leases/renew", "renew/{id}", "leases/renew/{id}"]),
        (r"generate/(?P<kind>internal|exported)", ["generate/{kind}"]),
        (r"(?P<path>.*)", ["{path}"]),
    ],
)
def test_patterns_become_templates(pattern: str, expected: list[str]) -> None:
    assert sorted(t.text for t in templates(pattern)) == sorted(expected)


def test_a_pattern_with_an_unnamed_wildcard_cannot_be_described() -> None:
    with pytest.raises(UnexpressiblePattern):
        templates(r"keys/\w+")


def test_mount_path_items_names_the_mount() -> None:
    from engine.backends.kv import kv_factory
    from engine.mounts import MountEntry

    backend = kv_factory(MountEntry("app/", "kv", options={"version": "1"}))
    items = dict(mount_path_items(MountedBackend("app/", "kv", backend)))
    assert set(items["/app/{path}"]) >= {"get", "post", "delete"}
    assert items["/app/{path}/"]["get"]["parameters"][0]["name"] == "list"


async def test_a_write_answers_the_same_and_context_ends_every_operation_id(engine: Engine) -> None:
    written = await engine.core.handle(Request(Op.UPDATE, SPEC, {"context": "v2"}, client_token=engine.root))
    assert isinstance(written, RawResponse)
    operations = [op for item in written.body["paths"].values() for key, op in item.items() if key in _METHODS]
    assert operations and all(op["operationId"].endswith("-v2") for op in operations)
    assert written.body["paths"].keys() == (await document(engine, engine.root))["paths"].keys()
