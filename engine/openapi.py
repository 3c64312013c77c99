"""An OpenAPI 3 description of the mounted backends (Vault's sdk/framework/openapi.go), built from the very
path tables the router dispatches on, so the document cannot drift from what is served.

Each Path's anchored regex becomes one or more path templates: named groups become {parameters} (their
own regex becomes the parameter's pattern), optional parts and alternatives are expanded into one
template each. Operations map to HTTP methods as Vault's edge does: READ=GET, UPDATE/CREATE=POST (PUT is
accepted as a synonym and not repeated), DELETE=DELETE, PATCH=PATCH, and LIST=GET on the template with a
trailing slash and a required `list=true` query parameter, as Vault documents it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from engine.framework import Backend, Field, FieldType, Path, SpecialPaths
from engine.request import Op

OPENAPI_VERSION = "3.0.2"

# What the daemon may answer besides a success, as Vault documents its status codes.
ERROR_STATUSES = {
    "400": "Invalid request, missing or invalid data.",
    "403": "Forbidden: the token is missing, unknown, or its policies do not allow the request.",
    "404": "Invalid path: nothing is mounted there, or nothing stored at it.",
    "405": "The path does not support this operation.",
    "413": "The request body is larger than the configured maximum.",
    "429": "Rate limit exceeded.",
    "500": "Internal server error: storage or the token failed; see the server log.",
    "503": "The daemon is sealed, not initialised, or a standby without an active node.",
}

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Vault's response envelope (sys/ responses repeat `data` at the top level).",
    "required": ["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"],
    "properties": {
        "request_id": {"type": "string"},
        "lease_id": {"type": "string"},
        "renewable": {"type": "boolean"},
        "lease_duration": {"type": "integer"},
        "data": {"type": "object", "nullable": True},
        "wrap_info": {"type": "object", "nullable": True},
        "warnings": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "auth": {"type": "object", "nullable": True},
        "mount_type": {"type": "string"},
    },
}

ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
}

_FIELD_SCHEMAS: dict[FieldType, dict[str, Any]] = {
    FieldType.STRING: {"type": "string"},
    FieldType.INT: {"type": "integer"},
    FieldType.BOOL: {"type": "boolean"},
    FieldType.MAP: {"type": "object"},
    FieldType.LIST: {"type": "array", "items": {"type": "string"}},
    FieldType.STRING_LIST: {"type": "array", "items": {"type": "string"}},
    FieldType.KV_PAIRS: {"type": "object"},
    # Seconds as a number, or a Go duration such as "1h30m": Vault documents these as strings.
    FieldType.DURATION: {"type": "string", "format": "duration"},
}
# Paths whose success is a body of its own rather than the envelope (their handlers return a BytesResponse;
# a Path cannot say so itself), by (mount type, pattern).
RAW_MEDIA_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("system", "metrics"): ("text/plain",),
    ("pki", "ca"): ("application/pkix-cert",),
    ("pki", "ca/pem"): ("application/pem-certificate-chain",),
    ("pki", "ca_chain"): ("application/pem-certificate-chain",),
    ("pki", "crl"): ("application/pkix-crl",),
    ("pki", "crl/pem"): ("application/x-pem-file",),
}
# Only scalars travel in a query string.
_QUERY_TYPES = (FieldType.STRING, FieldType.INT, FieldType.BOOL, FieldType.DURATION)


@dataclass(frozen=True)
class MountedBackend:
    """One entry of the mount table, as the document needs it."""

    path: str  # the full routing path, e.g. "secret/" or "auth/userpass/"
    type: str
    backend: Backend


@dataclass(frozen=True)
class Template:
    """One concrete form of a Path's pattern: "keys/{name}" with the regex each parameter must match."""

    text: str
    parameters: dict[str, str]


class UnexpressiblePattern(ValueError):
    """A pattern with a part that is neither literal nor a named group (e.g. a bare `.*`)."""


# --- regex -> path templates ----------------------------------------------------------------------


def templates(pattern: str) -> list[Template]:
    """The path templates a pattern stands for, shortest first; a trailing optional "/" is dropped
    (the router accepts both forms, the document names one)."""
    parsed = sre_parse.parse(pattern)
    names = {index: name for name, index in parsed.state.groupdict.items()}
    sources = _group_sources(pattern)
    found: dict[str, Template] = {}
    for text, params in _expand(list(parsed), names, sources):
        text = text.rstrip("/") if text.endswith("/") and text.rstrip("/") else text
        shape = re.sub(r"\{[^}]*\}", "{}", text)
        if shape not in found:
            found[shape] = Template(text, params)
    return sorted(found.values(), key=lambda t: (len(t.text), t.text))


def _group_sources(pattern: str) -> dict[str, str]:
    """Each named group's own regex text, for the parameter's `pattern`."""
    sources: dict[str, str] = {}
    for match in re.finditer(r"\(\?P<(\w+)>", pattern):
        depth, pos = 1, match.end()
        while pos < len(pattern) and depth:
            char = pattern[pos]
            if char == "\\":
                pos += 2
                continue
            depth += {"(": 1, ")": -1}.get(char, 0)
            pos += 1
        sources[match.group(1)] = pattern[match.end() : pos - 1]
    return sources


Variant = tuple[str, dict[str, str]]


def _expand(items: list[Any], names: dict[int, str], sources: dict[str, str]) -> list[Variant]:
    variants: list[Variant] = [("", {})]
    for op, arg in items:
        options = _expand_item(op, arg, names, sources)
        variants = [(text + more, {**params, **extra}) for text, params in variants for more, extra in options]
    return variants


def _expand_item(op: Any, arg: Any, names: dict[int, str], sources: dict[str, str]) -> list[Variant]:
    if op is sre_constants.LITERAL:
        return [(chr(arg), {})]
    if op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [("", {})]  # anchors and look-arounds consume nothing
    if op is sre_constants.SUBPATTERN:
        group, _, _, sub = arg
        name = names.get(group) if group is not None else None
        if name is not None:
            return [(f"{{{name}}}", {name: sources.get(name, ".+")})]
        return _expand(list(sub), names, sources)
    if op is sre_constants.BRANCH:
        return [variant for alternative in arg[1] for variant in _expand(list(alternative), names, sources)]
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] == 0 and arg[1] == 1:
        return [("", {}), *_expand(list(arg[2]), names, sources)]
    raise UnexpressiblePattern(f"cannot describe {op} outside a named group")


# --- the document ------------------------------------------------------------------------------


def build_document(mounts: Iterable[MountedBackend], version: str = "1.0.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for mount in sorted(mounts, key=lambda m: m.path):
        for key, item in mount_path_items(mount):
            paths.setdefault(key, {}).update(item)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Sealer API",
            "description": "Vault-compatible HTTP API. All routes are prefixed with `/v1/`.",
            "version": version,
        },
        "servers": [{"url": "/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Envelope": ENVELOPE_SCHEMA, "Errors": ERRORS_SCHEMA},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "X-Vault-Token"}},
        },
        "security": [{"token": []}],
    }


def mount_path_items(mount: MountedBackend) -> Iterator[tuple[str, dict[str, Any]]]:
    """("/secret/{path}", {"get": ..., "post": ...}) for every template of every Path of a mount.
    Patterns that cannot be written as templates are left out (a test keeps that set empty)."""
    for path in mount.backend.paths:
        try:
            forms = templates(path.pattern)
        except UnexpressiblePattern:
            continue
        for form in forms:
            yield from _path_items(mount, path, form)


def _path_items(mount: MountedBackend, path: Path, form: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    relative = form.text
    url = "/" + mount.path + relative
    special = mount.backend.special_paths
    tag = mount.type
    extensions = _extensions(special, relative, path)
    plain: dict[str, Any] = {}
    for op in path.operations:
        method = _METHODS.get(op)
        if method is None or method in plain:
            continue
        plain[method] = _operation(op, path, form, tag, extensions)
        raw = RAW_MEDIA_TYPES.get((mount.type, path.pattern))
        if raw is not None and op is Op.READ:
            success = {media: {"schema": {"type": "string"}} for media in raw}
            plain[method]["responses"] = responses(success=success)
    if plain:
        yield url, {**_path_level(path, form), **plain}
    if Op.LIST in path.operations:
        listed = url if url.endswith("/") else url + "/"
        yield listed, {**_path_level(path, form), "get": _operation(Op.LIST, path, form, tag, extensions)}


_METHODS = {Op.READ: "get", Op.UPDATE: "post", Op.CREATE: "post", Op.DELETE: "delete", Op.PATCH: "patch"}


def _path_level(path: Path, form: Template) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if path.synopsis:
        item["summary"] = path.synopsis
    if path.description:
        item["description"] = path.description
    params = [_path_parameter(name, regex, path.fields.get(name)) for name, regex in form.parameters.items()]
    if params:
        item["parameters"] = params
    return item


def _path_parameter(name: str, regex: str, spec: Field | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "pattern": f"^(?:{regex})$"}
    param: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
    if spec is not None and spec.description:
        param["description"] = spec.description
    return param


def _extensions(special: SpecialPaths, relative: str, path: Path) -> dict[str, Any]:
    concrete = re.sub(r"\{[^}]*\}", "x", relative)
    extensions: dict[str, Any] = {}
    if SpecialPaths.matches(special.unauthenticated, concrete):
        extensions["x-vault-unauthenticated"] = True
    if SpecialPaths.matches(special.root, concrete):
        extensions["x-vault-sudo"] = True
    if Op.CREATE in path.operations:
        extensions["x-vault-create-supported"] = True
    return extensions


def _operation(op: Op, path: Path, form: Template, tag: str, extensions: Mapping[str, Any]) -> dict[str, Any]:
    body_fields = {name: spec for name, spec in path.fields.items() if name not in form.parameters}
    operation: dict[str, Any] = {
        "operationId": _operation_id(op, form.text, tag),
        "tags": [tag],
        **extensions,
        "responses": responses(),
    }
    if op is Op.LIST:
        operation["parameters"] = [
            {"name": "list", "in": "query", "required": True, "schema": {"type": "string", "enum": ["true"]}}
        ]
    elif op in (Op.READ, Op.DELETE):
        query = [_query_parameter(name, spec) for name, spec in body_fields.items() if spec.type in _QUERY_TYPES]
        if query:
            operation["parameters"] = query
    else:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _body_schema(body_fields, path.takes_arbitrary_input)}},
        }
    return operation


def _operation_id(op: Op, text: str, tag: str) -> str:
    words = re.sub(r"[^0-9A-Za-z]+", "-", text).strip("-") or "root"
    return f"{tag}-{op.name.lower()}-{words}"


def _query_parameter(name: str, spec: Field) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": _field_schema(spec)}
    if spec.description:
        param["description"] = spec.description
    return param


def _body_schema(fields: Mapping[str, Field], arbitrary: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: _field_schema(spec) for name, spec in fields.items()},
    }
    required = sorted(name for name, spec in fields.items() if spec.required)
    if required:
        schema["required"] = required
    if arbitrary:
        schema["additionalProperties"] = True
    return schema


def _field_schema(spec: Field) -> dict[str, Any]:
    schema = dict(_FIELD_SCHEMAS[spec.type])
    if spec.description:
        schema["description"] = spec.description
    default = spec.default_value()
    if default not in (None, "", [], {}) and _fits(spec.type, default):
        schema["default"] = default
    return schema


def _fits(kind: FieldType, value: Any) -> bool:
    expected = {FieldType.INT: int, FieldType.BOOL: bool, FieldType.STRING: str, FieldType.DURATION: str}
    wanted = expected.get(kind)
    return wanted is not None and type(value) is wanted


def responses(success: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Vault's answers: the envelope, 202 (accepted, nothing to say), 204 and the documented errors."""
    errors = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    ok = success or {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    return {
        "200": {"description": "OK", "content": dict(ok)},
        "202": {"description": "Accepted", "content": {"application/json": {"schema": {"type": "object"}}}},
        "204": {"description": "Empty body"},
        **{status: {"description": text, "content": errors} for status, text in ERROR_STATUSES.items()},
    }
