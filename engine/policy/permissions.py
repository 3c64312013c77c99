"""What one compiled ACL entry grants (Vault's ACLPermissions): the merge of every rule with the same
pattern across a token's policies, and the checks on a request's parameters and wrapping TTL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.policy.capabilities import Capability, names
from engine.policy.parser import ParameterValues, PathRule
from engine.request import Op

# Parameters are only checked on operations that carry them (Vault's list).
_PARAMETER_OPS = frozenset({Op.READ, Op.UPDATE, Op.CREATE, Op.PATCH})


@dataclass
class Permissions:
    capabilities: Capability
    min_wrapping_ttl: int = 0
    max_wrapping_ttl: int = 0
    # None: no constraint written. {} is kept distinct only for the merge rules below.
    allowed_parameters: dict[str, ParameterValues] | None = None
    denied_parameters: dict[str, ParameterValues] | None = None
    required_parameters: list[str] = field(default_factory=list)
    # Filled by freeze() once merging is over: plain ints and ready answers, because IntFlag
    # arithmetic costs a microsecond per operation on the per-request path.
    bits: int = field(default=0, init=False)
    granted: frozenset[str] = field(default=frozenset(), init=False)
    sudo: bool = field(default=False, init=False)

    @classmethod
    def of(cls, rule: PathRule) -> Permissions:
        return cls(
            capabilities=rule.capabilities,
            min_wrapping_ttl=rule.min_wrapping_ttl,
            max_wrapping_ttl=rule.max_wrapping_ttl,
            allowed_parameters=_copy(rule.allowed_parameters),
            denied_parameters=_copy(rule.denied_parameters),
            required_parameters=list(rule.required_parameters),
        )

    def merge(self, rule: PathRule) -> None:
        """Fold in another rule with the same pattern (Vault's NewACL): a deny on either side wins and
        wipes the rest; otherwise capabilities add up, parameter lists are joined (an empty list,
        meaning any value, absorbs the others), required parameters add up, and of two wrapping TTL
        bounds the smaller is kept."""
        if self.capabilities & Capability.DENY:
            return
        if rule.capabilities & Capability.DENY:
            self.capabilities = Capability.DENY
            self.allowed_parameters = self.denied_parameters = None
            return
        self.capabilities |= rule.capabilities
        if rule.max_wrapping_ttl and (not self.max_wrapping_ttl or rule.max_wrapping_ttl < self.max_wrapping_ttl):
            self.max_wrapping_ttl = rule.max_wrapping_ttl
        if rule.min_wrapping_ttl and (not self.min_wrapping_ttl or rule.min_wrapping_ttl < self.min_wrapping_ttl):
            self.min_wrapping_ttl = rule.min_wrapping_ttl
        self.allowed_parameters = _merge_parameters(self.allowed_parameters, rule.allowed_parameters)
        self.denied_parameters = _merge_parameters(self.denied_parameters, rule.denied_parameters)
        for name in rule.required_parameters:
            if name not in self.required_parameters:
                self.required_parameters.append(name)

    def freeze(self) -> None:
        self.bits = int(self.capabilities)
        self.granted = frozenset(names(self.capabilities))
        self.sudo = bool(self.capabilities & Capability.SUDO) and not self.capabilities & Capability.DENY

    def refusal(self, op: Op, data: Mapping[str, Any], wrap_ttl: int) -> str:
        """Why a request these capabilities already allow is still refused ("" when it is not):
        wrapping TTL bounds, then required, denied and allowed parameters, in Vault's order."""
        if self.max_wrapping_ttl and (not wrap_ttl or wrap_ttl > self.max_wrapping_ttl):
            return "wrapping TTL above the policy's max_wrapping_ttl (or not wrapped)"
        if self.min_wrapping_ttl and (not wrap_ttl or wrap_ttl < self.min_wrapping_ttl):
            return "wrapping TTL below the policy's min_wrapping_ttl (or not wrapped)"
        if self.min_wrapping_ttl and self.max_wrapping_ttl and self.max_wrapping_ttl < self.min_wrapping_ttl:
            return "merged wrapping TTL bounds exclude each other"
        if op not in _PARAMETER_OPS:
            return ""
        for name in self.required_parameters:
            if name.lower() not in data:
                return f"missing required parameter {name!r}"
        if not data:
            return ""
        denied = self.denied_parameters
        if denied:
            if "*" in denied:
                return "every parameter is denied"
            for name, value in data.items():
                values = denied.get(name.lower())
                if values is not None and _in_denied(value, values):
                    return f"parameter {name!r} has a denied value"
        allowed = self.allowed_parameters
        if not allowed:
            return ""
        allow_any = "*" in allowed
        if allow_any and len(allowed) == 1:
            return ""
        for name, value in data.items():
            values = allowed.get(name.lower())
            if values is None:
                if not allow_any:
                    return f"parameter {name!r} is not allowed"
            elif not _in_allowed(value, values):
                return f"parameter {name!r} has a value that is not allowed"
        return ""


def _copy(parameters: Mapping[str, ParameterValues] | None) -> dict[str, ParameterValues] | None:
    return None if parameters is None else dict(parameters)


def _merge_parameters(
    mine: dict[str, ParameterValues] | None, theirs: Mapping[str, ParameterValues] | None
) -> dict[str, ParameterValues] | None:
    if not theirs:
        return mine
    if mine is None:
        return dict(theirs)
    for name, values in theirs.items():
        if not values or mine.get(name) == ():
            mine[name] = ()
        else:
            mine[name] = (*values, *mine.get(name, ()))
    return mine


def _in_allowed(value: Any, values: ParameterValues) -> bool:
    """Vault's valueInAllowedParameterList: an empty list allows anything; a list value (or a
    comma-separated string) is allowed when each of its elements is."""
    if not values or _in_list(value, values):
        return True
    elements = _elements(value)
    # Unlike Vault, an empty string does not pass as "zero elements, all of them allowed".
    return bool(elements) and all(_in_list(element, values) for element in elements)


def _in_denied(value: Any, values: ParameterValues) -> bool:
    """Vault's valueInDeniedParameterList: an empty list denies any value; a list value (or a
    comma-separated string) is denied when any of its elements is."""
    if not values or _in_list(value, values):
        return True
    return any(_in_list(element, values) for element in _elements(value))


def _elements(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        # Such a string may be a comma-separated list field: judge each part, as Vault does.
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def _in_list(value: Any, values: ParameterValues) -> bool:
    for element in values:
        if element is None or value is None:
            if element is value:
                return True
        elif isinstance(element, str):
            if isinstance(value, str) and glob_match(element, value):
                return True
        elif _same(element, value):
            return True
    return False


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a policy value `1` must not admit the JSON value `true`.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def glob_match(pattern: str, value: str) -> bool:
    """Vault's GlobbedStringsMatch: a leading and/or trailing '*' in `pattern`; a pattern shorter
    than two characters (so "*" itself) only matches itself."""
    if len(pattern) < 2:
        return value == pattern
    starts, ends = pattern.startswith("*"), pattern.endswith("*")
    if starts and ends:
        return pattern[1:-1] in value
    if starts:
        return value.endswith(pattern[1:])
    if ends:
        return value.startswith(pattern[:-1])
    return value == pattern
