"""A backend is a table of paths (Vault's sdk/framework): each path has an anchored regex, typed fields
and one handler per operation. The framework matches, validates and dispatches, so handlers hold only
their logic.

Matching has three outcomes: no pattern matches (404 "unsupported path"), a pattern matches but has no
handler for the operation (405), or a full match. Patterns must not overlap: a path matched by two
patterns is a bug in the backend, reported as such instead of silently depending on table order.
"""

from __future__ import annotations

import copy
import enum
import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import BadRequest, EngineError, NotFound, UnsupportedOperation
from engine.request import Op, Request, Response, Secret
from engine.storage.base import Storage

Handler = Callable[[Request, "FieldData", Storage], Awaitable[Response | None]]
ExistenceCheck = Callable[[Request, "FieldData", Storage], Awaitable[bool]]


class FieldType(enum.Enum):
    STRING = "string"
    INT = "int"
    BOOL = "bool"
    MAP = "map"
    LIST = "list"  # Vault's TypeCommaStringSlice: "a,b" or a JSON list
    STRING_LIST = "string_list"  # Vault's TypeStringSlice: a JSON list, or one string (never split on ",")
    KV_PAIRS = "kv_pairs"  # Vault's TypeKVPairs: a map of strings, or a list of "k=v"
    DURATION = "duration"  # Vault's TypeDurationSecond: seconds, or "30s"/"5m"/"1h"/"1d"


_ZERO: dict[FieldType, Any] = {
    FieldType.STRING: "",
    FieldType.INT: 0,
    FieldType.BOOL: False,
    FieldType.MAP: {},
    FieldType.LIST: [],
    FieldType.STRING_LIST: [],
    FieldType.KV_PAIRS: {},
    FieldType.DURATION: 0,
}

_NOT_GIVEN: Any = object()


@dataclass(frozen=True)
class Field:
    type: FieldType
    default: Any = _NOT_GIVEN
    description: str = ""
    required: bool = False

    def default_value(self) -> Any:
        value = _ZERO[self.type] if self.default is _NOT_GIVEN else self.default
        if isinstance(value, (str, int, float, bool, type(None))):
            return value  # immutable: nothing a handler could change
        return copy.deepcopy(value)  # a handler mutating its list must not change the schema


# --- parsing one raw value ------------------------------------------------------------------------

_ARTICLE = {
    FieldType.STRING: "a string",
    FieldType.INT: "an int",
    FieldType.BOOL: "a bool",
    FieldType.MAP: "a map",
    FieldType.LIST: "a list",
    FieldType.STRING_LIST: "a list of strings",
    FieldType.KV_PAIRS: "a map of strings",
    FieldType.DURATION: "a duration",
}

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


class _Invalid(ValueError):
    pass


def parse_duration(value: Any) -> int:
    """Seconds from an int, a numeric string or a Go-style duration ("1h30m", "1.5h", "10d"), as Vault's
    ParseDurationSecond does (fractions of a second are dropped). Raises ValueError."""
    if isinstance(value, bool):
        raise _Invalid(value)
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float):
        seconds = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        seconds = int(text) if re.fullmatch(r"-?\d+", text) else int(_parse_go_duration(text))
    else:
        raise _Invalid(value)
    if seconds < 0:
        raise _Invalid(value)
    return seconds


def _parse_go_duration(text: str) -> float:
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise _Invalid(text)
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return total


def _weak_string(value: Any) -> str:
    # Vault decodes strings "weakly": numbers and bools sent where a string is expected are accepted.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    raise _Invalid(value)


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise _Invalid(value)


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    raise _Invalid(value)


def _parse_map(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _Invalid(value) from exc
    if isinstance(value, dict):
        return dict(value)
    raise _Invalid(value)


def _parse_list(value: Any) -> list[str]:
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise _Invalid(value)
    return [s for s in (_weak_string(item).strip() for item in items) if s]


def _parse_string_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [s for s in (_weak_string(item).strip() for item in items) if s]


def _parse_kv_pairs(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): _weak_string(v) for k, v in value.items()}
    if isinstance(value, list):
        pairs: dict[str, str] = {}
        for item in value:
            key, sep, val = _weak_string(item).partition("=")
            if not sep:
                raise _Invalid(value)
            pairs[key] = val
        return pairs
    raise _Invalid(value)


_PARSERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.STRING: _weak_string,
    FieldType.INT: _parse_int,
    FieldType.BOOL: _parse_bool,
    FieldType.MAP: _parse_map,
    FieldType.LIST: _parse_list,
    FieldType.STRING_LIST: _parse_string_list,
    FieldType.KV_PAIRS: _parse_kv_pairs,
    FieldType.DURATION: parse_duration,
}


def parse_field(name: str, spec: Field, value: Any) -> Any:
    try:
        return _PARSERS[spec.type](value)
    except (_Invalid, ValueError, TypeError):
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        raise BadRequest(f"field '{name}': expected {_ARTICLE[spec.type]}, got '{shown}'") from None


class FieldData:
    """The request's input, validated against a path's schema. Fields declared but not supplied read
    as their default (the type's zero value unless the schema says otherwise). A JSON null counts as
    not supplied, as Vault's weak decoding treats it."""

    def __init__(self, raw: Mapping[str, Any], schema: Mapping[str, Field]) -> None:
        self.raw = dict(raw)
        self.schema = schema  # the path's own, never changed: no copy per request
        self._parsed: dict[str, Any] = {}
        for name, spec in self.schema.items():
            value = self.raw.get(name)
            if value is None:
                if spec.required:
                    raise BadRequest(f"field '{name}': missing required field")
                continue
            self._parsed[name] = parse_field(name, spec, value)

    def get(self, name: str) -> Any:
        if name in self._parsed:
            return self._parsed[name]
        return self.schema[name].default_value()  # KeyError for an undeclared field: a handler bug

    def get_ok(self, name: str) -> tuple[Any, bool]:
        """The value and whether the caller supplied it (as opposed to the default)."""
        return self.get(name), name in self._parsed


# Paths whose routes a backend remembers.
_REMEMBERED_ROUTES = 4096

_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def literal_prefix(pattern: str) -> str:
    """Text that every full match of `pattern` starts with ("" when there is none to be sure of)."""
    depth, escaped = 0, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return ""  # a top-level alternation: its branches need not share a start
    end = 0
    while end < len(pattern) and pattern[end] not in _REGEX_SPECIAL:
        end += 1
    if end < len(pattern) and pattern[end] in "?*{":
        end -= 1  # the character before an optional or counted repeat may be absent
    return pattern[: max(end, 0)]


@dataclass
class Path:
    pattern: str
    operations: Mapping[Op, Handler]
    fields: Mapping[str, Field] = field(default_factory=dict)
    synopsis: str = ""
    description: str = ""
    existence_check: ExistenceCheck | None = None
    # Paths like KV's store whatever keys they are sent; others warn about unknown keys as Vault does.
    takes_arbitrary_input: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False)

    literal_prefix: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(self.pattern)
        self.literal_prefix = literal_prefix(self.pattern)
        if Op.CREATE in self.operations and self.existence_check is None:
            raise ValueError(f"path {self.pattern!r} defines CREATE but no existence check")
        captured = {name: Field(FieldType.STRING) for name in self.regex.groupindex}
        self.fields = {**captured, **self.fields}

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


@dataclass(frozen=True)
class SpecialPaths:
    """Vault's PathsSpecial, relative to the mount. Entries are exact paths, or prefixes when they end
    in '*'. `unauthenticated`: no token needed (logins). `root`: needs `sudo` in the caller's policy."""

    unauthenticated: tuple[str, ...] = ()
    root: tuple[str, ...] = ()

    @staticmethod
    def matches(patterns: tuple[str, ...], path: str) -> bool:
        if not patterns:
            return False
        exact, prefixes = _compiled_special(patterns)
        return path in exact or path.startswith(prefixes)


@functools.lru_cache(maxsize=256)
def _compiled_special(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Special paths as exact names and prefixes (str.startswith takes a tuple): checked on every request."""
    exact = frozenset(p for p in patterns if not p.endswith("*"))
    return exact, tuple(p[:-1] for p in patterns if p.endswith("*"))


@dataclass(frozen=True)
class SecretLease:
    """A secret a backend issued, handed back to it to renew or revoke (Vault's RenewRequest and
    RevokeRequest carry the same): the path below the mount it was issued at and its internal data."""

    lease_id: str
    path: str
    issue_time: datetime
    ttl: int
    max_ttl: int
    internal_data: dict[str, Any] = field(default_factory=dict, repr=False)
    increment: int = 0  # the renewal asked for, in seconds (0: the backend's default)


class Backend:
    """Base class: subclasses set `paths` (usually in __init__, with bound-method handlers). A backend
    that issues leased secrets (Response.secret) also overrides revoke_secret, and renew_secret if
    its secrets can be renewed."""

    paths: list[Path]
    special_paths: SpecialPaths = SpecialPaths()

    def _route(self, path: str) -> tuple[Path, dict[str, str]]:
        """The path pattern `path` matches and what it captured (read-only: shared by later requests).
        Routes are remembered per path: a write routes twice (existence check, then handler) and hot
        paths come back on every request; a backend's `paths` never change once it is made."""
        routes: dict[str, tuple[Path, dict[str, str]]] | None = self.__dict__.get("_routes")
        if routes is None:
            routes = self.__dict__["_routes"] = {}
        route = routes.get(path)
        if route is not None:
            return route
        # A path that does not start with a pattern's literal text cannot match it: most regexes are skipped.
        found = [
            (p, captures)
            for p in self.paths
            if path.startswith(p.literal_prefix) and (captures := p.match(path)) is not None
        ]
        if not found:
            raise NotFound("unsupported path")
        if len(found) > 1:
            patterns = ", ".join(p.pattern for p, _ in found)
            raise EngineError(f"ambiguous route {path!r}: matched by {patterns}")
        if len(routes) >= _REMEMBERED_ROUTES:
            routes.clear()  # many distinct paths (KV keys): start over rather than track which is oldest
        route = routes[path] = found[0]
        return route

    @staticmethod
    def _field_data(req: Request, path: Path, captures: dict[str, str]) -> FieldData:
        # Values captured from the URL win over the body, as in Vault.
        return FieldData({**req.data, **captures}, path.fields)

    async def existence(self, req: Request, storage: Storage) -> bool | None:
        """Whether the target of a write exists, or None when the path has no existence check (then a
        write is always an UPDATE). Core uses this to tell CREATE from UPDATE before authorising."""
        path, captures = self._route(req.path)
        if path.existence_check is None:
            return None
        return await path.existence_check(req, self._field_data(req, path, captures), storage)

    async def revoke_secret(self, lease: SecretLease, storage: Storage) -> None:
        """Undo what the secret granted (drop the database user, ...). Raising leaves the lease to be
        retried with backoff. The default has nothing to undo."""
        return None

    async def renew_secret(self, lease: SecretLease, storage: Storage) -> Secret | None:
        """Extend the secret: return its new terms (ttl 0: the mount's default); the expiration manager
        caps them by the max TTLs. Secrets of a backend that does not override this are issued as
        not renewable."""
        raise BadRequest("lease is not renewable")

    async def periodic(self, storage: Storage) -> None:
        """Scheduled work (Vault's PeriodicFunc), called every few seconds while unsealed with the
        mount's storage: e.g. rotating static database passwords. Errors are logged, never fatal."""
        return None

    async def cleanup(self) -> None:
        """Release what the backend holds outside storage (Vault's Cleanup: connection pools), on
        unmount and before sealing."""
        return None

    @classmethod
    def renews_secrets(cls) -> bool:
        return cls.renew_secret is not Backend.renew_secret

    async def handle(self, req: Request, storage: Storage) -> Response | None:
        path, captures = self._route(req.path)
        handler = path.operations.get(req.op)
        if handler is None:
            raise UnsupportedOperation("unsupported operation")
        data = self._field_data(req, path, captures)
        response = await handler(req, data, storage)
        if response is not None:
            _add_input_warnings(response, req, path, captures)
        return response


def _add_input_warnings(response: Response, req: Request, path: Path, captures: dict[str, str]) -> None:
    if not req.data:
        return  # nothing sent (every read): nothing ignored, nothing replaced
    if not path.takes_arbitrary_input:
        ignored = sorted(k for k in req.data if k not in path.fields)
        if ignored:
            response.warnings.append(f"Endpoint ignored these unrecognized parameters: [{' '.join(ignored)}]")
    replaced = sorted(k for k in captures if req.data.get(k) is not None)
    if replaced:
        response.warnings.append(
            "Endpoint replaced the value of these parameters with the values captured from the "
            f"endpoint's path: [{' '.join(replaced)}]"
        )
