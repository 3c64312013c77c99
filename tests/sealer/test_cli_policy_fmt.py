"""`sealer policy fmt`'s formatter: the canonical layout, idempotence, comments kept, and invalid policies
refused with the daemon's own parse error."""

from __future__ import annotations

import pytest

from sealer.cli.policy_fmt import FormatError, format_policy


def test_layout_indents_aligns_and_trims_blank_lines() -> None:
    messy = (
        '# top comment\n'
        'path "secret/app/*"{\n'
        'capabilities=["create", "read"]\n'
        '    allowed_parameters = {\n'
        '  "foo"=[]\n'
        '      "*" = []\n'
        '}\n'
        '\n\n'
        '}\n\n\n\n'
        'path   "sys/*"   {  # inline comment\n'
        '  capabilities = ["deny"]\n'
        '}'
    )
    assert format_policy(messy) == (
        '# top comment\n'
        'path "secret/app/*" {\n'
        '  capabilities = ["create", "read"]\n'
        '  allowed_parameters = {\n'
        '    "foo" = []\n'
        '    "*"   = []\n'
        '  }\n'
        '}\n'
        '\n'
        'path "sys/*" { # inline comment\n'
        '  capabilities = ["deny"]\n'
        '}\n'
    )


def test_formatting_is_idempotent_and_braces_in_strings_do_not_count() -> None:
    text = 'path "secret/{weird}/*" {\n  capabilities = ["read"] # a } in a comment\n}\n'
    once = format_policy(text)
    assert once == text
    assert format_policy(once) == once


def test_json_policies_are_checked_but_left_as_written() -> None:
    text = '{"path": {"secret/*": {"capabilities": ["read"]}}}'
    assert format_policy(text) == text + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('path "x" { capabilities = ["fly"] }', 'invalid capability "fly"'),
        ('path "x" { capabilities = ["read"]', "unexpected end of file"),
        ('pth "x" { capabilities = ["read"] }', "pth"),
    ],
)
def test_invalid_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        format_policy(text)
