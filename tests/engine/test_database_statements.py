"""The database engine's pure parts: splitting statements as Vault does (but never inside quotes or a
dollar-quoted body), placeholders, names that cannot break out of their quotes, generated credentials."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest

from engine.backends.database import statements
from engine.backends.database.credentials import generate_password, generate_username
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType


def test_split_on_statement_ends_only() -> None:
    assert statements.split(["CREATE ROLE a; GRANT x TO a;", "  ", "SELECT 1"]) == [
        "CREATE ROLE a", "GRANT x TO a", "SELECT 1"
    ]
    assert statements.split(["COMMENT ON ROLE a IS 'x; y'; SELECT \"we;ird\""]) == [
        "COMMENT ON ROLE a IS 'x; y'", 'SELECT "we;ird"'
    ]
    body = "DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$"
    assert statements.split([body + "; SELECT 3"]) == [body, "SELECT 3"]
    assert statements.split(["SELECT 'it''s; fine'"]) == ["SELECT 'it''s; fine'"]


def test_base64_statements_are_decoded_as_vault_does() -> None:
    encoded = base64.b64encode(b"CREATE ROLE b; SELECT 1").decode()
    assert statements.split([encoded]) == ["CREATE ROLE b", "SELECT 1"]


def test_render_fills_every_placeholder() -> None:
    rendered = statements.render("ALTER ROLE \"{{name}}\" PASSWORD '{{password}}' -- {{name}}",
                                 {"name": "u", "password": "p"})
    assert rendered == "ALTER ROLE \"u\" PASSWORD 'p' -- u"


@pytest.mark.parametrize("name", ['a"b', "a'b", "a;b", "a\\b", "a\nb", ""])
def test_names_that_could_break_out_of_quotes_are_refused(name: str) -> None:
    with pytest.raises(BadRequest):
        statements.check_identifier(name, "username")


def test_quote_ident_doubles_quotes() -> None:
    assert statements.quote_ident('we"ird') == '"we""ird"'


def test_generated_credentials() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"[A-Za-z0-9-]{20}", password)
        assert re.search(r"[a-z]", password) and re.search(r"[A-Z]", password) and re.search(r"\d", password)
        assert "-" in password
    now = datetime(2030, 1, 1, tzinfo=UTC)
    name = generate_username('user"pass-alice', "a-very-long-role-name", now)
    assert re.fullmatch(rf"v-user-pas-a-very-l-[A-Za-z0-9]{{20}}-{int(now.timestamp())}", name)
    assert len(generate_username("x" * 100, "y" * 100, now)) <= 63


def test_string_list_fields_never_split_on_commas() -> None:
    schema = {"s": Field(FieldType.STRING_LIST)}
    assert FieldData({"s": "GRANT SELECT, INSERT ON t TO x"}, schema).get("s") == ["GRANT SELECT, INSERT ON t TO x"]
    assert FieldData({"s": ["a, b", " ", "c"]}, schema).get("s") == ["a, b", "c"]
    assert FieldData({}, schema).get("s") == []
    with pytest.raises(BadRequest, match="expected a list of strings"):
        FieldData({"s": {"k": "v"}}, schema)
