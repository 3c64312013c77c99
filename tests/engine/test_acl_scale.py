"""A 1,000-rule ACL answers by looking at a handful of rules, not all of them (counted, not timed), and
the radix tree behind the glob rules agrees with a brute-force longest-prefix search."""

from __future__ import annotations

import random

import pytest

from engine.policy import ACL, parse_policy
from engine.policy.parser import Policy
from engine.policy.prefix_tree import PrefixTree
from engine.request import Op
from tests.engine.test_acl_reference import VaultReference

MOUNTS = 40


def thousand_rules() -> list[Policy]:
    """10 policies x 100 rules: per mount 10 exact paths, 10 globs and 5 '+' rules."""
    blocks: list[str] = []
    for m in range(MOUNTS):
        for k in range(10):
            blocks.append(f'path "kv{m:02}/app/key{k}" {{ capabilities = ["read"] }}')
            blocks.append(f'path "kv{m:02}/team{k}/*" {{ capabilities = ["list", "read"] }}')
        for k in range(5):
            blocks.append(f'path "kv{m:02}/+/cfg{k}" {{ capabilities = ["update"] }}')
    assert len(blocks) == 1000
    return [parse_policy("\n".join(blocks[i::10]), f"p{i}") for i in range(10)]


@pytest.fixture(scope="module")
def big() -> tuple[ACL, VaultReference]:
    policies = thousand_rules()
    return ACL(policies), VaultReference(policies)


def test_a_thousand_rules_compile_into_one_acl(big: tuple[ACL, VaultReference]) -> None:
    acl, _ = big
    assert acl.rule_count == 1000


@pytest.mark.parametrize(
    ("op", "path", "allowed"),
    [
        (Op.READ, "kv07/app/key3", True),  # exact
        (Op.READ, "kv07/team4/deep/down/secret", True),  # glob
        (Op.UPDATE, "kv39/anything/cfg2", True),  # '+'
        (Op.READ, "kv39/anything/cfg2", False),
        (Op.LIST, "kv12/team9", True),
        (Op.READ, "kv12/elsewhere/x", False),
        (Op.READ, "nowhere/at/all", False),
    ],
)
def test_each_check_compares_a_handful_of_rules(
    big: tuple[ACL, VaultReference], op: Op, path: str, allowed: bool
) -> None:
    acl, reference = big
    assert acl.check(op, path, {}).allowed is allowed
    assert reference.allowed(op, path) is allowed
    # A linear scan would compare against 1,000 rules; here: exact lookups, a few tree edges, and the
    # '+' rules of this path's first segment only.
    assert acl.comparisons(op, path) <= 20


def test_random_paths_agree_with_the_reference(big: tuple[ACL, VaultReference]) -> None:
    acl, reference = big
    rng = random.Random(7)
    for _ in range(500):
        path = "/".join(
            [f"kv{rng.randrange(MOUNTS + 2):02}", rng.choice(["app", "team3", "teamx", "z"]),
             rng.choice(["key1", "cfg4", "cfg9", "a"])][: rng.randint(1, 3)]
        )
        assert acl.capabilities(path) == reference.capabilities(path), path
        assert acl.comparisons(Op.READ, path) <= 20


# --- the radix tree ----------------------------------------------------------------------------


def brute_longest(prefixes: dict[str, int], key: str) -> tuple[str, int] | None:
    matching = [p for p in prefixes if key.startswith(p)]
    if not matching:
        return None
    best = max(matching, key=len)
    return best, prefixes[best]


@pytest.mark.parametrize("seed", range(10))
def test_prefix_tree_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab/"
    prefixes = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))): i for i in range(60)}
    tree: PrefixTree[int] = PrefixTree()
    for prefix, value in prefixes.items():
        tree.insert(prefix, value)
    assert len(tree) == len(prefixes)
    for _ in range(300):
        key = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        found = tree.longest_prefix(key)
        assert (found[:2] if found else None) == brute_longest(prefixes, key), key


def test_prefix_tree_overwrites_and_walks_few_edges() -> None:
    tree: PrefixTree[str] = PrefixTree()
    for i in range(1000):
        tree.insert(f"secret/team{i:04}/", f"t{i}")
    tree.insert("secret/team0001/", "again")
    assert len(tree) == 1000
    found = tree.longest_prefix("secret/team0001/x/y")
    assert found is not None
    prefix, value, steps = found
    assert (prefix, value) == ("secret/team0001/", "again")
    assert steps <= 6  # shared "secret/team0" then a few digit edges, not 1,000 comparisons
    assert tree.longest_prefix("public/x") is None
