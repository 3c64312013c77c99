"""The subject attributes besides the common name (organization, ou, country, ...), as roles and CA
requests give them: Vault's field names, each a comma-separated list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.framework import Field, FieldType

SUBJECT_NAMES = tuple(pki_crypto.SUBJECT_FIELDS)
SUBJECT_FIELDS = {name: Field(FieldType.LIST) for name in SUBJECT_NAMES}

Subject = tuple[tuple[str, tuple[str, ...]], ...]


def subject_attributes(get: Callable[[str], Any]) -> Subject:
    """The attributes given (through `get(field name)`); 400 for a country that is no two-letter code,
    which X.509 requires."""
    for country in get("country"):
        if len(country) != 2:
            raise BadRequest(f"country {country!r} must be a two-letter ISO 3166 code")
    return tuple((name, tuple(get(name))) for name in SUBJECT_NAMES if get(name))
