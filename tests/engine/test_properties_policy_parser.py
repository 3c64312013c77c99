"""The policy parser (engine/policy/parser.py): a policy drawn by hypothesis, written as HCL and as JSON,
parses to the same rules, and to the rules it was drawn from; and no text whatsoever makes the parser
raise anything but PolicyError (a 400 with a message), whether random characters, HCL-shaped token soup
or any JSON document."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.policy import parse_policy
from engine.policy.capabilities import BY_NAME, Capability
from engine.policy.parser import PathRule, PolicyError
from tests.engine.properties import PROPERTY

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)
GRANTS = sorted(name for name in BY_NAME if name != "deny")


@st.composite
def patterns(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(WORD, st.just("+")), min_size=1, max_size=4))
    pattern = "/".join(parts)
    if draw(st.booleans()) and not pattern.endswith("+"):
        pattern += "*"
    return pattern


parameters = st.dictionaries(st.one_of(WORD, st.just("*")), st.lists(WORD, max_size=3), max_size=3)


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    """One path block as plain data: what both renderings write."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return {"capabilities": ["deny"]}
    body: dict[str, Any] = {"capabilities": draw(st.lists(st.sampled_from(GRANTS), min_size=1, unique=True))}
    for key in ("allowed_parameters", "denied_parameters"):
        if draw(st.booleans()):
            body[key] = draw(parameters)
    if draw(st.booleans()):
        body["required_parameters"] = draw(st.lists(WORD, max_size=3))
    if draw(st.booleans()):
        low = draw(st.integers(min_value=1, max_value=3600))
        body["min_wrapping_ttl"] = f"{low}s"
        body["max_wrapping_ttl"] = f"{draw(st.integers(min_value=low, max_value=7200))}s"
    return body


policies = st.dictionaries(patterns(), rules(), min_size=1, max_size=5)


def as_hcl(policy: dict[str, dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)  # strings and lists of strings are written alike in HCL and JSON

    blocks = []
    for pattern, body in policy.items():
        lines = "\n".join(f"  {key} = {value(v)}" for key, v in body.items())
        blocks.append(f"# a comment\npath {json.dumps(pattern)} {{\n{lines}\n}}")
    return "\n\n".join(blocks)


def as_json(policy: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"path": policy}, indent=2)


def expected(pattern: str, body: dict[str, Any]) -> PathRule:
    bits = Capability.NONE
    for name in body["capabilities"]:
        bits |= BY_NAME[name]
    if bits & Capability.DENY:
        return PathRule(pattern=pattern, capabilities=Capability.DENY)

    def params(key: str) -> dict[str, tuple[str, ...]] | None:
        return None if key not in body else {name: tuple(values) for name, values in body[key].items()}

    return PathRule(
        pattern=pattern,
        capabilities=bits,
        allowed_parameters=params("allowed_parameters"),
        denied_parameters=params("denied_parameters"),
        required_parameters=tuple(body.get("required_parameters", ())),
        min_wrapping_ttl=int(body.get("min_wrapping_ttl", "0s")[:-1]),
        max_wrapping_ttl=int(body.get("max_wrapping_ttl", "0s")[:-1]),
    )


@settings(PROPERTY, max_examples=60)  # pyhcl is slow: ~10 ms a policy
@given(policies)
def test_hcl_and_json_renderings_parse_to_the_same_rules(policy: dict[str, dict[str, Any]]) -> None:
    from_hcl = parse_policy(as_hcl(policy), "p").rules
    from_json = parse_policy(as_json(policy), "p").rules
    assert from_hcl == from_json
    assert list(from_hcl) == [expected(pattern, body) for pattern, body in policy.items()]


def parses_or_refuses(text: str) -> None:
    try:
        parse_policy(text, "fuzz")
    except PolicyError as refused:
        assert refused.status == 400 and refused.message.startswith("failed to parse policy: ")


@PROPERTY
@given(st.text(max_size=200))
def test_random_text_only_ever_raises_policy_error(text: str) -> None:
    parses_or_refuses(text)


HCL_TOKENS = ['path', '"secret/*"', '"a"', '{', '}', '[', ']', '=', ',', 'capabilities', '"read"', '"deny"',
              'allowed_parameters', 'required_parameters', 'min_wrapping_ttl', '"1h"', '"x"', '1', 'true',
              'policy', '"sudo"', '#', '\n', ' ', '<<EOF\n', 'EOF\n', '"*"', '"+"', '-', '.']


@PROPERTY
@given(st.lists(st.sampled_from(HCL_TOKENS), max_size=40))
def test_hcl_shaped_token_soup_only_ever_raises_policy_error(tokens: list[str]) -> None:
    parses_or_refuses(" ".join(tokens))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
    | st.sampled_from(["read", "deny", "secret/*", "+/x", "1h", "*"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(["path", "capabilities", "allowed_parameters", "denied_parameters", "required_parameters",
                         "min_wrapping_ttl", "max_wrapping_ttl", "policy", "secret/*", "*", "x"]) | st.text(max_size=5),
        inner,
        max_size=4,
    ),
    max_leaves=20,
)


@PROPERTY
@given(json_values)
def test_any_json_document_only_ever_raises_policy_error(value: Any) -> None:
    parses_or_refuses(json.dumps(value))
    parses_or_refuses(json.dumps({"path": value}))
