"""The compiled ACL of a set of policies (Vault's vault/acl.go), built once and asked per request.

Rules with the same pattern across the policies are merged into one entry first. A path is then
answered by exactly one entry:
  1. an exact rule (a dict lookup);
  2. otherwise the best of: the longest prefix rule (a radix tree walk) and the '+' rules that match,
     ranked as Vault ranks them (see `_rank`).
LIST requests also try the path without its trailing slash first, as Vault does.

Deny is absolute within an entry: once any policy denies a pattern, the merged entry grants nothing.
A more specific pattern still wins over a less specific one whatever they grant (Vault's rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.policy.capabilities import REQUIRED, ROOT, Capability, names
from engine.policy.parser import PathRule, Policy
from engine.policy.permissions import Permissions
from engine.policy.prefix_tree import PrefixTree
from engine.request import Op


@dataclass(frozen=True)
class Decision:
    allowed: bool
    sudo: bool
    capabilities: frozenset[str]
    # Why it was refused, for logs and tests; clients only ever see "permission denied".
    reason: str = ""


@dataclass(frozen=True)
class _SegmentRule:
    """A rule with '+' segments, prepared for matching and ranking."""

    pattern: str
    segments: tuple[str, ...]  # of the pattern without its trailing '*'
    is_prefix: bool
    first_wildcard: int  # position of the first '+' in the pattern
    wildcards: int  # number of '+' segments
    permissions: Permissions

    @property
    def rank(self) -> _Rank:
        return _rank(self.first_wildcard, self.is_prefix, self.wildcards, self.pattern)

    def matches(self, parts: list[str]) -> bool:
        segments = self.segments
        if len(parts) < len(segments) or (not self.is_prefix and len(parts) != len(segments)):
            return False
        last = len(segments) - 1
        for i, segment in enumerate(segments):
            if segment == "+" or segment == parts[i]:
                continue
            if self.is_prefix and i == last and parts[i].startswith(segment):
                continue
            return False
        return True


    def covers_prefix(self, parts: list[str]) -> bool:
        """Whether paths below `parts` (a mount point's segments) can match this rule."""
        return all(segment == "+" or segment == part for segment, part in zip(self.segments, parts, strict=False))


# A candidate's rank; the highest wins (Vault's `less` in CheckAllowedFromNonExactPaths, reversed):
# a later first wildcard or glob, then not being a prefix, then fewer '+', then a longer pattern,
# then (arbitrary but stable) the lexically greater pattern.
_Rank = tuple[int, bool, int, int, str]


def _rank(first_wildcard: int, is_prefix: bool, wildcards: int, pattern: str) -> _Rank:
    return (first_wildcard, not is_prefix, -wildcards, len(pattern), pattern)


_ROOT_DECISION = Decision(allowed=True, sudo=True, capabilities=frozenset({ROOT}))
_DENY = int(Capability.DENY)
_REQUIRED_BITS = {op: int(bit) for op, bit in REQUIRED.items()}
_ANSWERS_KEPT = 4096


class ACL:
    def __init__(self, policies: Iterable[Policy]) -> None:
        policies = list(policies)
        self.is_root = any(p.name == "root" for p in policies)
        self.policy_names = tuple(sorted(p.name for p in policies))
        exact: dict[str, Permissions] = {}
        prefix: dict[str, Permissions] = {}
        segment: dict[str, Permissions] = {}
        for policy in policies:
            for rule in policy.rules:
                if rule.templated:
                    continue  # identity templates render to nothing without an identity entity
                table, key = _table_and_key(rule, exact, prefix, segment)
                existing = table.get(key)
                if existing is None:
                    table[key] = Permissions.of(rule)
                else:
                    existing.merge(rule)
        for permissions in (*exact.values(), *prefix.values(), *segment.values()):
            permissions.freeze()
        self._exact = exact
        self._prefix_rules = prefix
        self._prefix: PrefixTree[Permissions] = PrefixTree()
        for key, permissions in prefix.items():
            self._prefix.insert(key, permissions)
        # '+' rules indexed by their first segment when it is a plain literal, so a path only meets
        # the rules that could match it; the rest (first segment '+', or a one-segment glob) stay in "".
        self._segments: dict[str, list[tuple[_SegmentRule, _Rank]]] = {}
        for pattern, permissions in segment.items():
            compiled = _segment_rule(pattern, permissions)
            first = compiled.segments[0]
            key = "" if first == "+" or (compiled.is_prefix and len(compiled.segments) == 1) else first
            self._segments.setdefault(key, []).append((compiled, compiled.rank))
        self.rule_count = len(exact) + len(prefix) + len(segment)
        # The rule answering a path, by (path, is a list): an ACL never changes once made (a policy edit
        # makes new ACLs), so a repeated path skips the tree walk. Bounded: cleared when full.
        self._answers: dict[tuple[str, bool], Permissions | None] = {}

    # --- asking -----------------------------------------------------------------------------------

    def check(self, op: Op, path: str, data: Mapping[str, Any] | None = None, *, wrap_ttl: int = 0) -> Decision:
        """May `op` on `path` (the full request path) with `data` go ahead?"""
        if self.is_root:
            return _ROOT_DECISION
        if op is Op.LIST and not path.endswith("/"):
            path += "/"  # Vault's HTTP layer lists "secret/x" as "secret/x/"
        permissions = self._answer(path.lstrip("/"), op is Op.LIST)
        if permissions is None:
            return Decision(False, False, frozenset(), "no policy rule matches this path")
        bits, granted, sudo = permissions.bits, permissions.granted, permissions.sudo
        if bits & _DENY:
            return Decision(False, False, granted, "denied by policy")
        if not bits & _REQUIRED_BITS[op]:
            return Decision(False, sudo, granted, f"no policy grants {op.value!r} on this path")
        refusal = permissions.refusal(op, data or {}, wrap_ttl)
        return Decision(not refusal, sudo, granted, refusal)

    def capabilities(self, path: str) -> list[str]:
        """Vault's sys/capabilities answer for `path`: sorted capability names, ["deny"] when none,
        ["root"] for the root policy."""
        if self.is_root:
            return [ROOT]
        permissions, _ = self._lookup(path.lstrip("/"), True)
        return sorted(permissions.granted) if permissions is not None else names(Capability.NONE)

    def has_mount_access(self, mount_path: str) -> bool:
        """Vault's hasMountAccess: some capability on the mount itself, or a rule granting something at
        or below it (a token that may read secret/app/x may learn that secret/ is a KV v2 mount)."""
        if self.is_root or "deny" not in self.capabilities(mount_path):
            return True
        path = mount_path.lstrip("/")
        below = [p for key, p in self._exact.items() if key.startswith(path)]
        below += [p for key, p in self._prefix_rules.items() if key.startswith(path)]
        parts = path.rstrip("/").split("/")
        below += [rule.permissions for rules in self._segments.values() for rule, _ in rules
                  if rule.covers_prefix(parts)]
        return any(not p.bits & _DENY and p.bits & ~_DENY for p in below)

    def comparisons(self, op: Op, path: str) -> int:
        """How many rules (or tree edges) answering `path` looked at: a measure of the check's cost
        that does not depend on the machine, for tests."""
        if op is Op.LIST and not path.endswith("/"):
            path += "/"
        return self._lookup(path.lstrip("/"), op is Op.LIST)[1]

    # --- matching ---------------------------------------------------------------------------------

    def _answer(self, path: str, is_list: bool) -> Permissions | None:
        key = (path, is_list)
        try:
            return self._answers[key]
        except KeyError:
            pass
        permissions = self._lookup(path, is_list)[0]
        if len(self._answers) >= _ANSWERS_KEPT:
            self._answers.clear()
        self._answers[key] = permissions
        return permissions

    def _lookup(self, path: str, is_list: bool) -> tuple[Permissions | None, int]:
        compared = 1
        found = self._exact.get(path)
        if found is not None:
            return found, compared
        if is_list:
            compared += 1
            found = self._exact.get(path.removesuffix("/"))
            if found is not None:
                return found, compared
            # There may be rules with trailing globs that match the path without its slash.
            if path.endswith("/"):
                found, more = self._non_exact(path[:-1])
                compared += more
                if found is not None:
                    return found, compared
        found, more = self._non_exact(path)
        return found, compared + more

    def _non_exact(self, path: str) -> tuple[Permissions | None, int]:
        best: tuple[_Rank, Permissions] | None = None
        compared = 0
        longest = self._prefix.longest_prefix(path)
        if longest is not None:
            prefix, permissions, compared = longest
            best = (_rank(len(prefix), True, 0, prefix), permissions)
        if not self._segments:
            return (best[1] if best else None), compared
        parts = path.split("/")
        for candidates in (self._segments.get(parts[0], ()), self._segments.get("", ())):
            for candidate, rank in candidates:
                compared += 1
                if candidate.matches(parts) and (best is None or rank > best[0]):
                    best = (rank, candidate.permissions)
        return (best[1] if best else None), compared


def _table_and_key(
    rule: PathRule,
    exact: dict[str, Permissions],
    prefix: dict[str, Permissions],
    segment: dict[str, Permissions],
) -> tuple[dict[str, Permissions], str]:
    # Segment rules keep their '*' in the key ("a/+/b*" and "a/+/b" are different rules).
    if rule.has_segment_wildcards:
        return segment, rule.pattern
    if rule.is_prefix:
        return prefix, rule.pattern[:-1]
    return exact, rule.pattern


def _segment_rule(pattern: str, permissions: Permissions) -> _SegmentRule:
    is_prefix = pattern.endswith("*")
    bare = pattern[:-1] if is_prefix else pattern
    segments = tuple(bare.split("/"))
    return _SegmentRule(
        pattern=bare,
        segments=segments,
        is_prefix=is_prefix,
        first_wildcard=pattern.find("+"),
        wildcards=sum(1 for s in segments if s == "+"),
        permissions=permissions,
    )
