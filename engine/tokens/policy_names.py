"""Policy name lists as Vault's policyutil and strutil handle them for tokens."""

from __future__ import annotations

from collections.abc import Iterable

# Vault's nonAssignablePolicies: internal policies no token may be given.
NON_ASSIGNABLE = ("response-wrapping", "control-group")


def sanitize_policies(policies: Iterable[str], add_default: bool) -> list[str]:
    """Vault's policyutil.SanitizePolicies: lower-cased, trimmed, sorted, unique; "root" stands alone
    (and is never joined by "default"); "default" is added when asked and not already there."""
    names = [p.strip().lower() for p in policies]
    names = [p for p in names if p]
    if "root" in names:
        return ["root"]
    if add_default and "default" not in names:
        names.append("default")
    return sorted(set(names))


def remove_duplicates(items: Iterable[str]) -> list[str]:
    """Vault's strutil.RemoveDuplicates(items, lowercase=true)."""
    return sorted({item.strip().lower() for item in items if item.strip()})


def glob_matches(pattern: str, value: str) -> bool:
    """Vault's strutil.GlobbedStringsMatch: a '*' only at the start and/or the end."""
    if len(pattern) < 2:
        return value == pattern
    leading, trailing = pattern.startswith("*"), pattern.endswith("*")
    if leading and trailing:
        return pattern[1:-1] in value
    if leading:
        return value.endswith(pattern[1:])
    if trailing:
        return value.startswith(pattern[:-1])
    return value == pattern


def contains_glob(patterns: Iterable[str], value: str) -> bool:
    return any(glob_matches(p, value) for p in patterns)
