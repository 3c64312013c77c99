"""Parsing an ACL policy (Vault's vault/policy.go): HCL or JSON text into path rules.

    path "secret/app/*" {
      capabilities        = ["create", "read", "update", "delete", "list"]
      allowed_parameters  = { "ttl" = ["1h", "2h"], "*" = [] }
      denied_parameters   = { "admin" = [] }
      required_parameters = ["owner"]
      min_wrapping_ttl    = "1m"
      max_wrapping_ttl    = "1h"
    }

A rule's path is exact, a prefix when it ends in '*', and may hold '+' segments (any one segment).
Rejected, with a message naming the path: unknown keys or capabilities, a '*' anywhere but last
(Vault would silently treat it as a literal character), '+*', bad durations, and Vault Enterprise
features (control groups, MFA) that this server cannot enforce.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadRequest
from engine.framework import parse_duration
from engine.policy.capabilities import BY_NAME, OLD_STYLE, Capability
from engine.policy.hcl_reader import HclSyntaxError, Items, line_of, pairs, read

ParameterValues = tuple[Any, ...]
ParameterMap = Mapping[str, ParameterValues]

_TOP_KEYS = ("name", "path")
_RULE_KEYS = (
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
)
_ENTERPRISE_KEYS = {"mfa_methods": "MFA methods", "control_group": "control groups"}
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")


class PolicyError(BadRequest):
    """A policy that does not parse; the message is Vault's "failed to parse policy: ..." form."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"failed to parse policy: {detail}")


@dataclass(frozen=True)
class PathRule:
    """One `path` block, validated. `pattern` is the path as written (without a leading '/')."""

    pattern: str
    capabilities: Capability
    allowed_parameters: ParameterMap | None = None
    denied_parameters: ParameterMap | None = None
    required_parameters: tuple[str, ...] = ()
    min_wrapping_ttl: int = 0
    max_wrapping_ttl: int = 0

    @property
    def has_segment_wildcards(self) -> bool:
        # Vault's test, quirks included: a '+' right after a '/' (or leading) makes a segment pattern.
        p = self.pattern
        return p == "+" or "/+" in p or p.startswith("+/")

    @property
    def is_prefix(self) -> bool:
        return self.pattern.endswith("*")

    @property
    def templated(self) -> bool:
        return "{{" in self.pattern


@dataclass(frozen=True)
class Policy:
    name: str
    raw: str = field(repr=False)
    rules: tuple[PathRule, ...] = ()

    @property
    def templated(self) -> bool:
        return any(rule.templated for rule in self.rules)


def parse_policy(raw: str, name: str = "") -> Policy:
    """Parse policy text. Raises PolicyError (a 400) with Vault's message shapes."""
    try:
        top = read(raw)
    except HclSyntaxError as exc:
        raise PolicyError(str(exc)) from None
    rules: list[PathRule] = []
    for key, value in top:
        if key not in _TOP_KEYS:
            raise PolicyError(_invalid_key(raw, key))
        if key == "path":
            rules.extend(_parse_path_blocks(raw, value))
    return Policy(name=name, raw=raw, rules=tuple(rules))


def _parse_path_blocks(raw: str, value: Any) -> Iterator[PathRule]:
    # HCL gives {"secret/*": body}; JSON may also give a list of such objects.
    blocks = value if isinstance(value, list) and not isinstance(value, Items) else [value]
    for block in blocks:
        found = pairs(block)
        if found is None:
            raise PolicyError('"path" must be followed by a quoted path and a block')
        for pattern, body in found:
            yield _parse_rule(raw, str(pattern), body)


def _parse_rule(raw: str, written: str, body: Any) -> PathRule:
    where = f"path {_quote(written)}"
    fields = pairs(body)
    if fields is None:
        raise PolicyError(f"{where}: expected a block")
    settings: dict[str, Any] = {}
    capabilities: list[Any] = []
    for key, value in fields:
        if key not in _RULE_KEYS:
            raise PolicyError(f"{where}: {_invalid_key(raw, key)}")
        if key in _ENTERPRISE_KEYS:
            # Ignoring them, as Vault's community edition does, would grant without the extra check.
            raise PolicyError(f"{where}: {_ENTERPRISE_KEYS[key]} are a Vault Enterprise feature, not supported")
        if key == "capabilities":
            if not isinstance(value, list) or isinstance(value, Items):
                raise PolicyError(f"{where}: capabilities must be a list of strings")
            capabilities.extend(value)
        elif key in ("allowed_parameters", "denied_parameters") and key in settings:
            earlier, more = pairs(settings[key]), pairs(value)
            if earlier is None or more is None:
                raise PolicyError(f"{where}: {key} must be a map of parameter names to lists of values")
            settings[key] = Items([*earlier, *more])
        else:
            settings[key] = value

    pattern = _check_pattern(written)
    bits = _capabilities(where, capabilities, settings.get("policy"))
    if bits & Capability.DENY:
        # Vault keeps nothing else of a deny rule: no parameters, no wrapping limits.
        return PathRule(pattern=pattern, capabilities=Capability.DENY)

    min_ttl = _duration(where, "min_wrapping_ttl", settings.get("min_wrapping_ttl"))
    max_ttl = _duration(where, "max_wrapping_ttl", settings.get("max_wrapping_ttl"))
    if min_ttl and max_ttl and max_ttl < min_ttl:
        raise PolicyError(f"{where}: max_wrapping_ttl cannot be less than min_wrapping_ttl")
    return PathRule(
        pattern=pattern,
        capabilities=bits,
        allowed_parameters=_parameters(where, "allowed_parameters", settings.get("allowed_parameters")),
        denied_parameters=_parameters(where, "denied_parameters", settings.get("denied_parameters")),
        required_parameters=_required(where, settings.get("required_parameters")),
        min_wrapping_ttl=min_ttl,
        max_wrapping_ttl=max_ttl,
    )


def _check_pattern(written: str) -> str:
    pattern = written[1:] if written.startswith("/") else written
    where = f"path {_quote(pattern)}"
    if "+*" in pattern:
        raise PolicyError(f"{where}: invalid use of wildcards ('+*' is forbidden)")
    if "*" in pattern[:-1]:
        raise PolicyError(f"{where}: the glob '*' is only supported as the last character of a path")
    for template in _TEMPLATE.findall(pattern):
        if not template.strip():
            raise PolicyError(f"{where}: empty template '{{{{}}}}'")
    if pattern.count("{{") != pattern.count("}}"):
        raise PolicyError(f"{where}: unbalanced template braces")
    return pattern


def _capabilities(where: str, listed: list[Any], old_style: Any) -> Capability:
    bits = Capability.NONE
    if old_style is not None:
        if not isinstance(old_style, str) or old_style not in OLD_STYLE:
            raise PolicyError(f"{where}: invalid policy {_quote(str(old_style))}")
        bits |= OLD_STYLE[old_style]
    for name in listed:
        if not isinstance(name, str) or name not in BY_NAME:
            raise PolicyError(f"{where}: invalid capability {_quote(str(name))}")
        bits |= BY_NAME[name]
    return Capability.DENY if bits & Capability.DENY else bits


def _parameters(where: str, key: str, value: Any) -> ParameterMap | None:
    if value is None:
        return None
    found = pairs(value)
    if found is None:
        raise PolicyError(f"{where}: {key} must be a map of parameter names to lists of values")
    result: dict[str, ParameterValues] = {}
    for name, values in found:
        if "*" in name and name != "*":
            raise PolicyError(f"{where}: {key}: parameter key {_quote(name)} cannot contain non-tail wildcards")
        if not isinstance(values, list) or isinstance(values, Items):
            raise PolicyError(f"{where}: {key}: the values of {_quote(name)} must be a list")
        lowered = name.lower()
        # A repeated key adds values; an empty list (any value) stays the stronger statement.
        previous = result.get(lowered)
        merged = () if previous == () or not values else (*(previous or ()), *map(_plain, values))
        result[lowered] = merged
    return result


def _plain(value: Any) -> Any:
    """A parameter value as request data would carry it (objects as dicts, lists as lists)."""
    found = pairs(value)
    if found is not None:
        return {k: _plain(v) for k, v in found}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _required(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or isinstance(value, Items) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: required_parameters must be a list of strings")
    for name in value:
        if "*" in name:
            raise PolicyError(
                f"{where}: required_parameters: parameter key {_quote(name)}: wildcard is not permitted here"
            )
    return tuple(value)


def _duration(where: str, key: str, value: Any) -> int:
    if value is None:
        return 0
    try:
        return parse_duration(value)
    except ValueError:
        raise PolicyError(f"{where}: error parsing {key}: invalid duration {_quote(str(value))}") from None


def _invalid_key(raw: str, key: str) -> str:
    line = line_of(raw, key)
    return f"invalid key {_quote(key)}" + (f" on line {line}" if line is not None else "")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
