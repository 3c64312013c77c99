"""Generated credentials: passwords as Vault's default password policy makes them, and user names from
Vault's default PostgreSQL username template."""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

PASSWORD_LENGTH = 20
# Vault's default policy: letters, digits and "-", at least one of each kind. No quote or backslash,
# so a password is safe inside a SQL string literal ('{{password}}').
_LOWER, _UPPER, _DIGITS, _DASH = string.ascii_lowercase, string.ascii_uppercase, string.digits, "-"
_PASSWORD_ALPHABET = _LOWER + _UPPER + _DIGITS + _DASH

USERNAME_MAX_LENGTH = 63  # PostgreSQL's NAMEDATALEN - 1
_RANDOM_ALPHABET = string.ascii_letters + string.digits
# What a token's display name or a role name may bring into a user name; the rest becomes "-".
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def generate_password() -> str:
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
        if all(any(c in kind for c in password) for kind in (_LOWER, _UPPER, _DIGITS, _DASH)):
            return password


def generate_username(display_name: str, role_name: str, now: datetime) -> str:
    """Vault's `v-{{display_name | truncate 8}}-{{role | truncate 8}}-{{random 20}}-{{unix_time}}`,
    truncated to 63 characters."""
    random_part = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(20))
    name = f"v-{_clean(display_name)[:8]}-{_clean(role_name)[:8]}-{random_part}-{int(now.timestamp())}"
    return name[:USERNAME_MAX_LENGTH]


def _clean(text: str) -> str:
    return _NAME_UNSAFE.sub("-", text)
