"""Parameter constraints and wrapping TTL bounds (Vault's AllowOperation after the capability check)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.policy import ACL, parse_policy
from engine.policy.permissions import glob_match
from engine.request import Op


def acl(*texts: str) -> ACL:
    return ACL(parse_policy(text, f"p{i}") for i, text in enumerate(texts))


def allowed(a: ACL, data: dict[str, Any], op: Op = Op.UPDATE, path: str = "s/x", wrap_ttl: int = 0) -> bool:
    return a.check(op, path, data, wrap_ttl=wrap_ttl).allowed


DOCS = acl("""
path "s/x" {
  capabilities = ["create", "update", "read", "delete", "list", "patch"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["zip", "zap"]
  }
}
""")


def test_allowed_parameters_from_the_docs() -> None:
    assert allowed(DOCS, {"foo": "anything", "bar": "zip"})
    assert allowed(DOCS, {"bar": "zap"})
    assert not allowed(DOCS, {"bar": "zoo"})
    assert not allowed(DOCS, {"foo": "x", "other": 1})


def test_no_data_passes_the_parameter_checks() -> None:
    assert allowed(DOCS, {})


def test_only_operations_carrying_parameters_are_checked() -> None:
    for op in (Op.CREATE, Op.UPDATE, Op.PATCH, Op.READ):
        assert not allowed(DOCS, {"other": 1}, op)
    for op in (Op.DELETE, Op.LIST):
        assert allowed(DOCS, {"other": 1}, op)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("zip-*", "zip-1", True),
        ("zip-*", "zap-1", False),
        ("*-prod", "db-prod", True),
        ("*-prod", "db-dev", False),
        ("*mid*", "a-mid-b", True),
        ("*mid*", "a-b", False),
        ("*", "*", True),
        ("*", "anything", False),  # Vault: a pattern shorter than 2 characters is literal
        ("exact", "exact", True),
        ("exact", "exactly", False),
    ],
)
def test_value_globs(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected
    a = acl(f'path "s/x" {{ capabilities = ["update"]\n allowed_parameters = {{ "k" = ["{pattern}"] }} }}')
    assert allowed(a, {"k": value}) is expected


def test_star_key_allows_any_other_parameter() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n allowed_parameters = { "*" = []\n "env" = ["dev"] } }')
    assert allowed(a, {"anything": 1, "env": "dev"})
    assert not allowed(a, {"anything": 1, "env": "prod"})
    only_star = acl('path "s/x" { capabilities = ["update"]\n allowed_parameters = { "*" = [] } }')
    assert allowed(only_star, {"a": 1, "b": [1, 2]})


def test_denied_parameters() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n denied_parameters = { "admin" = []\n "env" = ["prod*"] } }')
    assert allowed(a, {"name": "x", "env": "dev"})
    assert not allowed(a, {"admin": False})
    assert not allowed(a, {"env": "production"})
    everything = acl('path "s/x" { capabilities = ["update"]\n denied_parameters = { "*" = [] } }')
    assert not allowed(everything, {"x": 1})
    assert allowed(everything, {})


def test_denied_beats_allowed() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n allowed_parameters = { "*" = [] }\n'
            ' denied_parameters = { "secret" = [] } }')
    assert allowed(a, {"public": 1})
    assert not allowed(a, {"public": 1, "secret": 2})


def test_parameter_names_match_case_insensitively() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n denied_parameters = { "Admin" = [] } }')
    assert not allowed(a, {"ADMIN": True})


def test_list_and_comma_separated_values_are_judged_element_by_element() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n allowed_parameters = { "policies" = ["app", "web*"] } }')
    assert allowed(a, {"policies": ["app", "web-1"]})
    assert allowed(a, {"policies": "app, web-2"})
    assert not allowed(a, {"policies": ["app", "root"]})
    assert not allowed(a, {"policies": "app,root"})
    # An empty string is not "zero elements, all allowed" (Vault would let it through).
    assert not allowed(a, {"policies": ""})
    d = acl('path "s/x" { capabilities = ["update"]\n denied_parameters = { "policies" = ["root"] } }')
    assert not allowed(d, {"policies": ["app", "root"]})
    assert not allowed(d, {"policies": "app,root"})
    assert allowed(d, {"policies": "app"})


def test_non_string_values_compare_by_value_and_type() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n allowed_parameters = { "n" = [1, 2] } }')
    assert allowed(a, {"n": 2})
    assert not allowed(a, {"n": 3})
    assert not allowed(a, {"n": True})  # True == 1 in Python, not in a policy
    assert not allowed(a, {"n": "1"})


def test_required_parameters() -> None:
    a = acl('path "s/x" { capabilities = ["update", "delete"]\n required_parameters = ["owner", "Team"] }')
    assert allowed(a, {"owner": "me", "team": "t"})
    assert not allowed(a, {"owner": "me"})
    assert not allowed(a, {})
    assert allowed(a, {}, Op.DELETE)


def test_parameter_maps_merge_across_policies() -> None:
    a = acl(
        'path "s/x" { capabilities = ["update"]\n allowed_parameters = { "env" = ["dev"]\n "a" = [] }\n'
        ' required_parameters = ["a"] }',
        'path "s/x" { capabilities = ["create"]\n allowed_parameters = { "env" = ["test"]\n "b" = [] }\n'
        ' required_parameters = ["b"] }',
    )
    assert allowed(a, {"a": 1, "b": 2, "env": "dev"})
    assert allowed(a, {"a": 1, "b": 2, "env": "test"}, Op.CREATE)
    assert not allowed(a, {"a": 1, "b": 2, "env": "prod"})
    assert not allowed(a, {"a": 1, "env": "dev"})  # both policies' required parameters apply


def test_an_empty_value_list_absorbs_a_merged_one() -> None:
    a = acl(
        'path "s/x" { capabilities = ["update"]\n allowed_parameters = { "env" = ["dev"] } }',
        'path "s/x" { capabilities = ["update"]\n allowed_parameters = { "env" = [] } }',
    )
    assert allowed(a, {"env": "prod"})


def test_a_merged_deny_drops_parameters_too() -> None:
    a = acl('path "s/x" { capabilities = ["update"]\n allowed_parameters = { "*" = [] } }',
            'path "s/x" { capabilities = ["deny"] }')
    assert not allowed(a, {})


def test_wrapping_ttl_bounds() -> None:
    a = acl('path "s/x" { capabilities = ["read"]\n min_wrapping_ttl = "1m"\n max_wrapping_ttl = "1h" }')
    assert not allowed(a, {}, Op.READ)  # not wrapped at all
    assert not allowed(a, {}, Op.READ, wrap_ttl=30)
    assert allowed(a, {}, Op.READ, wrap_ttl=60)
    assert allowed(a, {}, Op.READ, wrap_ttl=3600)
    assert not allowed(a, {}, Op.READ, wrap_ttl=3601)


def test_merged_wrapping_bounds_keep_the_smaller_values() -> None:
    a = acl('path "s/x" { capabilities = ["read"]\n max_wrapping_ttl = "1h" }',
            'path "s/x" { capabilities = ["read"]\n max_wrapping_ttl = "10m"\n min_wrapping_ttl = "5m" }',
            'path "s/x" { capabilities = ["read"]\n min_wrapping_ttl = "2m" }')
    assert allowed(a, {}, Op.READ, wrap_ttl=150)
    assert not allowed(a, {}, Op.READ, wrap_ttl=601)
    assert not allowed(a, {}, Op.READ, wrap_ttl=60)


def test_a_refusal_says_why() -> None:
    decision = DOCS.check(Op.UPDATE, "s/x", {"bar": "nope"})
    assert not decision.allowed
    assert "bar" in decision.reason
