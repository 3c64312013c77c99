"""Which rule answers a path: Vault's precedence, one rule per test (vault/acl.go and the "Priority
matching" section of Vault's Policies documentation)."""

from __future__ import annotations

from engine.policy import ACL, parse_policy
from engine.policy.parser import Policy
from engine.request import Op


def policy(text: str, name: str = "p") -> Policy:
    return parse_policy(text, name)


def acl(*texts: str) -> ACL:
    return ACL(policy(text, f"p{i}") for i, text in enumerate(texts))


def rule(pattern: str, *caps: str) -> str:
    quoted = ", ".join(f'"{c}"' for c in caps)
    return f'path "{pattern}" {{ capabilities = [{quoted}] }}\n'


def test_deny_by_default() -> None:
    empty = ACL([])
    assert not empty.check(Op.READ, "secret/x").allowed
    assert empty.capabilities("secret/x") == ["deny"]


def test_exact_rule_beats_any_glob() -> None:
    a = acl(rule("secret/*", "deny") + rule("secret/foo", "read"))
    assert a.check(Op.READ, "secret/foo").allowed
    assert not a.check(Op.READ, "secret/foo2").allowed


def test_a_glob_matches_below_but_not_the_folder_itself() -> None:
    a = acl(rule("secret/app/*", "read"))
    assert a.check(Op.READ, "secret/app/x/y").allowed
    assert not a.check(Op.READ, "secret/app").allowed
    assert a.check(Op.READ, "secret/app/").allowed


def test_a_glob_is_a_character_prefix_not_a_segment() -> None:
    a = acl(rule("kv/platform/db-*", "read"))
    assert a.check(Op.READ, "kv/platform/db-2").allowed
    assert a.check(Op.READ, "kv/platform/db-10/web").allowed
    assert not a.check(Op.READ, "kv/platform/db2").allowed


def test_longest_glob_wins() -> None:
    a = acl(rule("secret/*", "read") + rule("secret/team/*", "list"))
    assert a.capabilities("secret/team/x") == ["list"]
    assert a.capabilities("secret/other") == ["read"]


def test_plus_matches_exactly_one_segment() -> None:
    a = acl(rule("secret/+/config", "read"))
    assert a.check(Op.READ, "secret/app/config").allowed
    assert not a.check(Op.READ, "secret/app/x/config").allowed
    assert not a.check(Op.READ, "secret/config").allowed
    assert not a.check(Op.READ, "secret/app/config/x").allowed


def test_later_first_wildcard_wins() -> None:
    # "prefer foo/a* over foo/+"
    a = acl(rule("foo/a*", "read") + rule("foo/+", "list"))
    assert a.capabilities("foo/ab") == ["read"]
    # "prefer foo/bar/+/baz over foo/+/bar/baz"
    b = acl(rule("foo/bar/+/baz", "read") + rule("foo/+/bar/baz", "list"))
    assert b.capabilities("foo/bar/bar/baz") == ["read"]


def test_exact_segments_beat_a_glob_at_the_same_place() -> None:
    # "prefer foo/+/bar over foo/+/ba*" and "foo/+ over foo/*"
    a = acl(rule("foo/+/bar", "read") + rule("foo/+/ba*", "list"))
    assert a.capabilities("foo/x/bar") == ["read"]
    assert a.capabilities("foo/x/bat") == ["list"]
    b = acl(rule("foo/+", "read") + rule("foo/*", "list"))
    assert b.capabilities("foo/x") == ["read"]
    assert b.capabilities("foo/x/y") == ["list"]


def test_fewer_plus_segments_win() -> None:
    # same first wildcard, neither a prefix: "prefer foo/bar/+/baz over foo/+/+/baz"'s tie-breaker
    a = acl(rule("a/+/b/c", "read") + rule("a/+/+/c", "list"))
    assert a.capabilities("a/x/b/c") == ["read"]
    assert a.capabilities("a/x/y/c") == ["list"]


def test_longer_pattern_wins() -> None:
    # "prefer foo/+/bar/ba* over foo/+/bar/b*"
    a = acl(rule("foo/+/bar/ba*", "read") + rule("foo/+/bar/b*", "list"))
    assert a.capabilities("foo/x/bar/baz") == ["read"]
    assert a.capabilities("foo/x/bar/bz") == ["list"]


def test_last_resort_is_lexical_order() -> None:
    # Same first wildcard, no prefix, two '+' each, same length: Vault keeps the lexically greater.
    for text in (rule("+/b/+", "read") + rule("+/+/c", "list"), rule("+/+/c", "list") + rule("+/b/+", "read")):
        assert acl(text).capabilities("a/b/c") == ["read"]


def test_glob_rule_competes_with_plus_rules_by_rank() -> None:
    # The longest glob "secret/app/*" (wildcard at 11) beats "secret/+/x" (wildcard at 7).
    a = acl(rule("secret/app/*", "read") + rule("secret/+/x", "list"))
    assert a.capabilities("secret/app/x") == ["read"]
    # ...and loses to a '+' rule whose wildcard comes later than the glob.
    b = acl(rule("secret/*", "read") + rule("secret/app/+", "list"))
    assert b.capabilities("secret/app/x") == ["list"]


def test_identical_patterns_across_policies_merge() -> None:
    a = acl(rule("secret/*", "read"), rule("secret/*", "list"), rule("secret/*", "update"))
    assert a.capabilities("secret/x") == ["list", "read", "update"]
    assert a.check(Op.UPDATE, "secret/x").allowed


def test_identical_patterns_in_one_policy_merge() -> None:
    a = acl(rule("secret/+/x", "read") + rule("secret/+/x", "create"))
    assert a.capabilities("secret/a/x") == ["create", "read"]


def test_deny_beats_every_other_capability_on_the_same_pattern() -> None:
    for order in ((rule("s/*", "read", "sudo"), rule("s/*", "deny")), (rule("s/*", "deny"), rule("s/*", "read"))):
        a = acl(*order)
        assert a.capabilities("s/x") == ["deny"]
        decision = a.check(Op.READ, "s/x")
        assert not decision.allowed and not decision.sudo
    assert acl(rule("s/x", "read", "deny", "sudo")).capabilities("s/x") == ["deny"]


def test_a_more_specific_allow_still_beats_a_broader_deny() -> None:
    # Vault answers with exactly one rule: deny only wins where it is the rule that matches.
    a = acl(rule("secret/*", "deny"), rule("secret/public/*", "read"))
    assert a.check(Op.READ, "secret/public/x").allowed
    assert not a.check(Op.READ, "secret/private/x").allowed


def test_list_adds_a_trailing_slash_and_also_tries_without_it() -> None:
    exact = acl(rule("secret/app", "list"))
    assert exact.check(Op.LIST, "secret/app").allowed
    assert exact.check(Op.LIST, "secret/app/").allowed
    assert not exact.check(Op.READ, "secret/app/").allowed
    glob = acl(rule("secret/app/*", "list"))
    assert glob.check(Op.LIST, "secret/app").allowed  # listed as "secret/app/"
    # Vault 1.15 (PR 23874): a '+' rule without the trailing slash also allows the listing.
    plus = acl(rule("+/sys/policies/acl", "list"))
    assert plus.check(Op.LIST, "ns1/sys/policies/acl").allowed


def test_list_prefers_globs_matching_the_path_without_its_slash() -> None:
    # Vault checks "secret/fo" before "secret/fo/": the shorter glob answers the listing.
    a = acl(rule("secret/fo*", "read") + rule("secret/fo/*", "list"))
    assert not a.check(Op.LIST, "secret/fo/").allowed
    assert a.check(Op.LIST, "secret/fo/x/").allowed


def test_capabilities_are_sorted_and_sudo_is_reported() -> None:
    a = acl(rule("sys/auth/*", "update", "create", "sudo", "read"))
    assert a.capabilities("sys/auth/x") == ["create", "read", "sudo", "update"]
    assert a.check(Op.UPDATE, "sys/auth/x").sudo
    assert not acl(rule("sys/auth/*", "update")).check(Op.UPDATE, "sys/auth/x").sudo


def test_root_policy_allows_everything() -> None:
    root = ACL([Policy(name="root", raw="")])
    decision = root.check(Op.DELETE, "anything/at/all", {"x": 1})
    assert decision.allowed and decision.sudo
    assert root.capabilities("sys/raw/x") == ["root"]


def test_templated_rules_match_nothing_without_an_identity() -> None:
    a = acl(rule("identity/entity/id/{{identity.entity.id}}", "read"))
    assert not a.check(Op.READ, "identity/entity/id/{{identity.entity.id}}").allowed
    assert a.rule_count == 0


def test_leading_slashes_are_ignored() -> None:
    a = acl(rule("/secret/x", "read"))
    assert a.check(Op.READ, "/secret/x").allowed
    assert a.capabilities("//secret/x") == ["read"]


def test_operations_need_their_own_capability() -> None:
    a = acl(rule("s/x", "read"))
    for op in (Op.CREATE, Op.UPDATE, Op.PATCH, Op.DELETE, Op.LIST):
        decision = a.check(op, "s/x")
        assert not decision.allowed
        assert op.value in decision.reason
    every = acl(rule("s/x", "create", "read", "update", "patch", "delete", "list"))
    assert all(every.check(op, "s/x").allowed for op in Op)
