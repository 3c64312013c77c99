"""engine.policy.parser: Vault's policy language in HCL and JSON, and the policies it refuses."""

from __future__ import annotations

import json

import pytest

from engine.errors import BadRequest
from engine.policy import Capability, PolicyError, parse_policy
from engine.policy.builtin import CONTROL_GROUP_POLICY_TEXT, DEFAULT_POLICY_TEXT, RESPONSE_WRAPPING_POLICY_TEXT

C = Capability

# The example from Vault's "Policies" documentation page, comments and all.
VAULT_DOCS_EXAMPLE = """
# This section grants all access on "secret/*". further restrictions can be
# applied to this broad policy, as shown below.
path "secret/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}

// Even though we allowed secret/*, this line explicitly denies
// secret/super-secret. this takes precedence.
path "secret/super-secret" {
  capabilities = ["deny"]
}

/* Policies can also specify allowed, disallowed, and required parameters. here
   the key "secret/restricted" can only contain "foo" (any value) and "bar" (one
   of "zip" or "zap"). */
path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["zip", "zap"]
  }
}
"""


def rules_by_pattern(text: str) -> dict[str, object]:
    return {rule.pattern: rule for rule in parse_policy(text).rules}


def test_vault_docs_example_parses_with_comments() -> None:
    rules = parse_policy(VAULT_DOCS_EXAMPLE, "docs").rules
    assert [r.pattern for r in rules] == ["secret/*", "secret/super-secret", "secret/restricted"]
    assert rules[0].capabilities == C.CREATE | C.READ | C.UPDATE | C.PATCH | C.DELETE | C.LIST
    assert rules[0].is_prefix and not rules[1].is_prefix
    assert rules[1].capabilities == C.DENY
    assert rules[2].allowed_parameters == {"foo": (), "bar": ("zip", "zap")}


def test_json_policy_is_the_same_policy() -> None:
    as_json = json.dumps(
        {
            "path": {
                "secret/*": {"capabilities": ["create", "read", "update", "patch", "delete", "list"]},
                "secret/super-secret": {"capabilities": ["deny"]},
                "secret/restricted": {
                    "capabilities": ["create"],
                    "allowed_parameters": {"foo": [], "bar": ["zip", "zap"]},
                },
            }
        },
        indent=4,  # as hvac's create_or_update_policy sends a dict
    )
    assert parse_policy(as_json).rules == parse_policy(VAULT_DOCS_EXAMPLE).rules


def test_json_path_may_be_a_list_of_objects() -> None:
    text = '{"path": [{"a/*": {"capabilities": ["read"]}}, {"a/*": {"capabilities": ["list"]}}]}'
    assert [(r.pattern, r.capabilities) for r in parse_policy(text).rules] == [("a/*", C.READ), ("a/*", C.LIST)]


def test_repeated_path_blocks_are_all_kept() -> None:
    # pyhcl's own loads() would keep only the last block; Vault merges both.
    rules = parse_policy('path "a" { capabilities = ["read"] }\npath "a" { capabilities = ["list"] }').rules
    assert [(r.pattern, r.capabilities) for r in rules] == [("a", C.READ), ("a", C.LIST)]


def test_heredoc_comment_and_block_style_parameters() -> None:
    text = """
path "kv/*" {
  comment = <<EOT
a multi-line
note
EOT
  capabilities = ["read"]
  denied_parameters {
    "secret" = []
  }
  required_parameters = ["owner"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
}
"""
    (rule,) = parse_policy(text).rules
    assert rule.denied_parameters == {"secret": ()}
    assert rule.required_parameters == ("owner",)
    assert (rule.min_wrapping_ttl, rule.max_wrapping_ttl) == (60, 3600)


def test_parameter_names_are_lower_cased_and_repeats_join() -> None:
    text = 'path "a" {\n capabilities = ["update"]\n allowed_parameters = { "TTL" = ["1h"] }\n' \
           ' allowed_parameters = { "ttl" = ["2h"] }\n}'
    (rule,) = parse_policy(text).rules
    assert rule.allowed_parameters == {"ttl": ("1h", "2h")}


def test_old_style_policy_keyword() -> None:
    rules = rules_by_pattern(
        'path "r" { policy = "read" }\npath "w" { policy = "write" }\n'
        'path "s" { policy = "sudo" }\npath "d" { policy = "deny" }'
    )
    assert rules["r"].capabilities == C.READ | C.LIST
    assert rules["w"].capabilities == C.CREATE | C.READ | C.UPDATE | C.DELETE | C.LIST
    assert rules["s"].capabilities & C.SUDO
    assert rules["d"].capabilities == C.DENY


def test_deny_drops_everything_else_of_its_rule() -> None:
    (rule,) = parse_policy('path "a" {\n capabilities = ["read", "deny", "sudo"]\n'
                           ' allowed_parameters = { "x" = [] }\n}').rules
    assert rule.capabilities == C.DENY
    assert rule.allowed_parameters is None


def test_leading_slash_is_dropped_and_wildcard_kinds() -> None:
    rules = rules_by_pattern('path "/secret/x" { capabilities = ["read"] }\n'
                             'path "secret/+/y" { capabilities = ["read"] }\n'
                             'path "secret/+/z*" { capabilities = ["read"] }')
    assert set(rules) == {"secret/x", "secret/+/y", "secret/+/z*"}
    assert rules["secret/+/y"].has_segment_wildcards and not rules["secret/+/y"].is_prefix
    assert rules["secret/+/z*"].has_segment_wildcards and rules["secret/+/z*"].is_prefix
    assert not rules["secret/x"].has_segment_wildcards


def test_builtin_texts_parse() -> None:
    default = parse_policy(DEFAULT_POLICY_TEXT, "default")
    patterns = {r.pattern for r in default.rules}
    for expected in ("auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self",
                     "sys/capabilities-self", "cubbyhole/*", "sys/leases/renew", "sys/leases/lookup",
                     "sys/renew", "sys/tools/hash", "sys/wrapping/wrap", "sys/wrapping/unwrap",
                     "sys/internal/ui/resultant-acl", "identity/oidc/provider/+/authorize"):
        assert expected in patterns
    assert default.templated  # the identity entity paths
    assert parse_policy(RESPONSE_WRAPPING_POLICY_TEXT).rules
    assert parse_policy(CONTROL_GROUP_POLICY_TEXT).rules


def test_empty_and_comment_only_policies_grant_nothing() -> None:
    assert parse_policy("").rules == ()
    assert parse_policy("# nothing here\n").rules == ()


# --- refused policies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('path "x" { capabilities = ["fly"] }', 'path "x": invalid capability "fly"'),
        ('path "x" { capabilities = ["root"] }', 'path "x": invalid capability "root"'),
        ('path "x" { capabilities = "read" }', 'path "x": capabilities must be a list of strings'),
        ('path "x" { policy = "admin" }', 'path "x": invalid policy "admin"'),
        ('path "a/*/b" { capabilities = ["read"] }', "the glob '*' is only supported as the last character"),
        ('path "*a" { capabilities = ["read"] }', "the glob '*' is only supported as the last character"),
        ('path "a/+*" { capabilities = ["read"] }', "invalid use of wildcards ('+*' is forbidden)"),
        ('path "x" {\n  capabilitie = ["read"]\n}', 'path "x": invalid key "capabilitie" on line 2'),
        ('\n\npaths "x" { capabilities = ["read"] }', 'invalid key "paths" on line 3'),
        ('path "x" { capabilities = ["read"]\n min_wrapping_ttl = "soon" }', "error parsing min_wrapping_ttl"),
        ('path "x" { capabilities = ["read"]\n min_wrapping_ttl = "2h"\n max_wrapping_ttl = "1h" }',
         "max_wrapping_ttl cannot be less than min_wrapping_ttl"),
        ('path "x" { capabilities = ["read"]\n allowed_parameters = { "a*" = [] } }',
         'parameter key "a*" cannot contain non-tail wildcards'),
        ('path "x" { capabilities = ["read"]\n allowed_parameters = { "a" = "b" } }',
         'the values of "a" must be a list'),
        ('path "x" { capabilities = ["read"]\n required_parameters = "a" }',
         "required_parameters must be a list of strings"),
        ('path "x" { capabilities = ["read"]\n control_group = { ttl = "1h" } }', "Vault Enterprise feature"),
        ('path "x" { capabilities = ["read"]\n mfa_methods = ["m"] }', "Vault Enterprise feature"),
        ('path = "x"', '"path" must be followed by a quoted path and a block'),
        ('path "x/{{identity.entity.id}" { capabilities = ["read"] }', "unbalanced template braces"),
    ],
)
def test_bad_policies_are_400_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert isinstance(caught.value, BadRequest) and caught.value.status == 400
    assert caught.value.message.startswith("failed to parse policy: ")
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('path "x" {\n  capabilities = ["read"\n}', "line 3, column 1"),
        ('path "x" {\n  capabilities = ["read"]\n}\n}', "line 4, column 1"),
        ('{"path": {"x": {"capabilities": ["read"]}}', "line 1, column 43"),
        ('{"path": {"x":\n {"capabilities": [read]}}}', "line 2, column 20"),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, position: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert position in caught.value.message


def test_hcl_arithmetic_that_cannot_be_evaluated_is_a_parse_error() -> None:
    # Found by fuzzing: pyhcl evaluates arithmetic, and "1/0" escaped as a ZeroDivisionError (a 500).
    with pytest.raises(PolicyError, match="division by zero"):
        parse_policy('path "a" { x = 1/0 }')
