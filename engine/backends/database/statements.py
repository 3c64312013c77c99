"""SQL statements as Vault's database engine takes them: lists of strings, each of which may hold several
`;`-separated statements (or be base64 of them), with `{{name}}`-style placeholders filled in by plain
substitution (Vault's dbutil.QueryHelper).

Substituted values are never quoted here: the role's statements quote them ("{{name}}", '{{password}}'),
as Vault's do. What makes that safe is what may be substituted: generated user names and passwords use
alphabets without quotes, and a name a person supplies (a static role's user, the root user) is checked
by `check_identifier` first.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping

from engine.errors import BadRequest

# Characters that would end a quoted identifier or literal, or split a statement, if substituted.
_UNSAFE_IN_NAMES = re.compile(r"[\"'\\;\x00-\x1f\x7f]")


def check_identifier(value: str, what: str) -> str:
    if not value:
        raise BadRequest(f"{what} must not be empty")
    if _UNSAFE_IN_NAMES.search(value):
        raise BadRequest(f"{what} must not contain quotes, backslashes, semicolons or control characters")
    return value


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes, embedded quotes doubled (lib/pq's QuoteIdentifier)."""
    return '"' + name.replace("\x00", "").replace('"', '""') + '"'


def render(statement: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        statement = statement.replace("{{" + key + "}}", value)
    return statement


def _decode_if_base64(text: str) -> str:
    # Vault's ParseArbitraryStringSlice accepts a base64-encoded statement; SQL with a space or a
    # quote is never valid base64, so plain statements are left alone.
    if not text or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text) or len(text) % 4:
        return text
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return text
    return decoded if all(c.isprintable() or c.isspace() for c in decoded) else text


def split(statements: Iterable[str]) -> list[str]:
    """Every single statement, in order: each entry is split on the `;` that end statements, but not on
    one inside a quoted string, a quoted identifier or a dollar-quoted body (DO $$ ... $$)."""
    found: list[str] = []
    for entry in statements:
        found.extend(part for part in (p.strip() for p in _split_one(_decode_if_base64(entry.strip()))) if part)
    return found


_DOLLAR_TAG = re.compile(r"\$[A-Za-z_]*\$")


def _split_one(text: str) -> list[str]:
    parts: list[str] = []
    start = pos = 0
    while pos < len(text):
        char = text[pos]
        if char in "'\"":
            end = text.find(char, pos + 1)
            while end != -1 and text[end + 1 : end + 2] == char:  # a doubled quote stays inside
                end = text.find(char, end + 2)
            pos = len(text) if end == -1 else end + 1
            continue
        if char == "$" and (tag := _DOLLAR_TAG.match(text, pos)) is not None:
            end = text.find(tag.group(), tag.end())
            pos = len(text) if end == -1 else end + len(tag.group())
            continue
        if char == ";":
            parts.append(text[start:pos])
            start = pos + 1
        pos += 1
    parts.append(text[start:])
    return parts
