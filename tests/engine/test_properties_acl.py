"""The compiled ACL (engine/policy/acl.py) against the plain transcription of Vault's precedence rules in
test_acl_reference.VaultReference, on policies and paths drawn by hypothesis: exact, prefix ('*' cut
anywhere) and segment ('+') rules, denies, the same pattern in several policies, and paths with or
without a trailing slash. Hypothesis shrinks a disagreement to a minimal policy and path."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from engine.policy import ACL, parse_policy
from engine.policy.parser import Policy
from engine.request import Op
from tests.engine.properties import PROPERTY
from tests.engine.test_acl_reference import CAPS, SEGMENTS, VaultReference

segments = st.sampled_from([*SEGMENTS, "+"])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    pattern = "/".join(draw(st.lists(segments, min_size=1, max_size=4)))
    ending = draw(st.sampled_from(["exact", "folder", "glob"]))
    if ending == "folder":
        return pattern + "/*"
    if ending == "glob" and not pattern.endswith("+"):
        cut = draw(st.integers(min_value=1, max_value=len(pattern)))
        return (pattern[:cut] + "*").replace("+*", "+/*")  # "+*" is not a valid pattern
    return pattern


capabilities = st.one_of(st.just(["deny"]), st.lists(st.sampled_from(CAPS), min_size=1, max_size=3, unique=True))


@st.composite
def policy_sets(draw: st.DrawFn) -> list[Policy]:
    shared = draw(st.lists(patterns(), min_size=1, max_size=3))  # the same pattern in several policies
    policies = []
    for number in range(draw(st.integers(min_value=1, max_value=3))):
        rules = draw(st.lists(st.tuples(st.one_of(patterns(), st.sampled_from(shared)), capabilities), max_size=6))
        # JSON, whose parser is much faster than pyhcl's (the two forms agree: test_properties_policy_parser).
        text = json.dumps({"path": [{pattern: {"capabilities": caps}} for pattern, caps in rules]})
        policies.append(parse_policy(text, f"p{number}"))
    return policies


request_paths = st.builds(
    lambda parts, slash: "/".join(parts) + ("/" if slash else ""),
    st.lists(st.sampled_from([*SEGMENTS, "x", "abcd", "+"]), min_size=1, max_size=5),
    st.booleans(),
)


@PROPERTY
@given(policy_sets(), st.lists(request_paths, min_size=1, max_size=8))
def test_the_acl_agrees_with_vaults_precedence_rules(policies: list[Policy], paths: list[str]) -> None:
    acl, reference = ACL(policies), VaultReference(policies)
    for path in paths:
        assert acl.capabilities(path) == reference.capabilities(path), path
        for op in (Op.READ, Op.LIST, Op.UPDATE):
            assert acl.check(op, path, {}).allowed == reference.allowed(op, path), (op, path)
