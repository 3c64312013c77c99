"""The compiled ACL against a literal, index-free transcription of Vault's vault/acl.go (NewACL merging,
AllowOperation lookup order, CheckAllowedFromNonExactPaths ranking), on thousands of seeded random
policies and paths. The transcription scans every rule and sorts with Vault's own `less`, so it shares
no code or data structure with engine.policy.acl."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import pytest

from engine.policy import ACL, Capability, parse_policy
from engine.policy.capabilities import BY_NAME, names
from engine.policy.parser import Policy
from engine.request import Op

C = Capability


@dataclass
class _Desc:
    first: int
    wildcards: int
    is_prefix: bool
    path: str
    bits: int


class VaultReference:
    """Capabilities only (parameters have their own tests): enough to pin the matching rules."""

    def __init__(self, policies: list[Policy]) -> None:
        self.exact: dict[str, int] = {}
        self.prefix: dict[str, int] = {}
        self.segment: dict[str, int] = {}
        for policy in policies:
            for rule in policy.rules:
                path = rule.pattern
                if "{{" in path:
                    continue
                has_wc = path == "+" or "/+" in path or path.startswith("+/")
                if has_wc:
                    table, key = self.segment, path
                elif path.endswith("*"):
                    table, key = self.prefix, path[:-1]
                else:
                    table, key = self.exact, path
                bits = int(rule.capabilities)
                if key not in table:
                    table[key] = bits
                elif table[key] & C.DENY:
                    pass
                elif bits & C.DENY:
                    table[key] = int(C.DENY)
                else:
                    table[key] |= bits

    def lookup(self, path: str, is_list: bool) -> int | None:
        while path.startswith("/"):
            path = path[1:]
        if path in self.exact:
            return self.exact[path]
        if is_list:
            trimmed = path[:-1] if path.endswith("/") else path
            if trimmed in self.exact:
                return self.exact[trimmed]
        if is_list and path.endswith("/"):
            found = self.non_exact(path[:-1])
            if found is not None:
                return found
        return self.non_exact(path)

    def non_exact(self, path: str) -> int | None:
        descs: list[_Desc] = []
        matching = [p for p in self.prefix if path.startswith(p)]
        if matching:
            longest = max(matching, key=len)
            if not self.segment:
                return self.prefix[longest]
            descs.append(_Desc(len(longest), 0, True, longest, self.prefix[longest]))
        if not self.segment:
            return None
        parts = path.split("/")
        for full, bits in self.segment.items():
            desc = _Desc(full.find("+"), 0, False, full, bits)
            current = full
            if current.endswith("*"):
                desc.is_prefix = True
                current = current[:-1]
            desc.path = current
            split = current.split("/")
            if len(parts) < len(split):
                continue
            if not desc.is_prefix and len(split) != len(parts):
                continue
            ok = True
            for i, part in enumerate(split):
                if part == "+":
                    desc.wildcards += 1
                elif part == parts[i] or (desc.is_prefix and i == len(split) - 1 and parts[i].startswith(part)):
                    pass
                else:
                    ok = False
                    break
            if ok:
                descs.append(desc)
        if not descs:
            return None

        def less(i: _Desc, j: _Desc) -> bool:
            if i.first != j.first:
                return i.first < j.first
            if i.is_prefix != j.is_prefix:
                return i.is_prefix
            if i.wildcards != j.wildcards:
                return i.wildcards > j.wildcards
            if len(i.path) != len(j.path):
                return len(i.path) < len(j.path)
            return i.path < j.path

        descs.sort(key=functools.cmp_to_key(lambda a, b: -1 if less(a, b) else (1 if less(b, a) else 0)))
        return descs[-1].bits

    def allowed(self, op: Op, path: str) -> bool:
        if op is Op.LIST and not path.endswith("/"):
            path += "/"
        bits = self.lookup(path, op is Op.LIST)
        if bits is None or bits & C.DENY:
            return False
        needed = {Op.READ: C.READ, Op.LIST: C.LIST, Op.UPDATE: C.UPDATE}[op]
        return bool(bits & needed)

    def capabilities(self, path: str) -> list[str]:
        bits = self.lookup(path, True)
        return names(Capability(bits or 0))


# --- random policies ---------------------------------------------------------------------------

SEGMENTS = ["a", "b", "ab", "abc", "c"]
CAPS = ["read", "list", "update", "sudo"]


def random_pattern(rng: random.Random) -> str:
    parts = [rng.choice(SEGMENTS + ["+"] * 2) for _ in range(rng.randint(1, 4))]
    pattern = "/".join(parts)
    roll = rng.random()
    if roll < 0.25:
        pattern += "/*"
    elif roll < 0.45 and not pattern.endswith("+"):
        # a glob cut anywhere, even mid-segment ("a/ab" -> "a/a*"); "+*" is not a valid pattern
        pattern = (pattern[: rng.randint(1, len(pattern))] + "*").replace("+*", "+/*")
    return pattern


def random_policy(rng: random.Random, name: str, shared: list[str]) -> Policy:
    blocks = []
    for _ in range(rng.randint(1, 8)):
        pattern = rng.choice(shared) if shared and rng.random() < 0.4 else random_pattern(rng)
        caps = ["deny"] if rng.random() < 0.12 else rng.sample(CAPS, rng.randint(1, 3))
        quoted = ", ".join(f'"{c}"' for c in caps)
        blocks.append(f'path "{pattern}" {{ capabilities = [{quoted}] }}')
    return parse_policy("\n".join(blocks), name)


def random_path(rng: random.Random) -> str:
    path = "/".join(rng.choice([*SEGMENTS, "x", "abcd", "+"]) for _ in range(rng.randint(1, 5)))
    return path + "/" if rng.random() < 0.25 else path


@pytest.mark.parametrize("seed", range(40))
def test_compiled_acl_agrees_with_vaults_algorithm(seed: int) -> None:
    rng = random.Random(seed)
    shared = [random_pattern(rng) for _ in range(4)]
    policies = [random_policy(rng, f"p{i}", shared) for i in range(rng.randint(1, 4))]
    acl, reference = ACL(policies), VaultReference(policies)
    for _ in range(150):
        path = random_path(rng)
        assert acl.capabilities(path) == reference.capabilities(path), (path, policies)
        for op in (Op.READ, Op.LIST, Op.UPDATE):
            assert acl.check(op, path, {}).allowed == reference.allowed(op, path), (op, path, policies)


def test_the_generator_exercises_every_kind_of_rule() -> None:
    # Guards the test above against a generator that silently stopped producing some case.
    rng = random.Random(0)
    seen = {"exact": 0, "prefix": 0, "segment": 0, "segment-prefix": 0, "deny": 0, "merged": 0}
    for seed in range(40):
        rng = random.Random(seed)
        shared = [random_pattern(rng) for _ in range(4)]
        policies = [random_policy(rng, f"p{i}", shared) for i in range(rng.randint(1, 4))]
        patterns = [r.pattern for p in policies for r in p.rules]
        seen["merged"] += len(patterns) - len(set(patterns))
        for policy in policies:
            for rule in policy.rules:
                seen["deny"] += bool(rule.capabilities & C.DENY)
                if rule.has_segment_wildcards:
                    seen["segment-prefix" if rule.is_prefix else "segment"] += 1
                else:
                    seen["prefix" if rule.is_prefix else "exact"] += 1
    assert all(count >= 10 for count in seen.values()), seen
    assert set(BY_NAME) >= set(CAPS)
