"""Vault's audit hashing: string values become "hmac-sha256:<hex>" under the device's salt, so an
operator holding a value can find it (sys/audit-hash) but the log never carries it in clear."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.crypto import HmacSha256, hmac_sha256

PREFIX = "hmac-sha256:"


def hash_string(salt: bytes, value: str) -> str:
    return PREFIX + hmac_sha256(salt, value.encode()).hex()


def salted(salt: bytes) -> Callable[[str], str]:
    """hash_string under one salt, the salt's HMAC key set up once (a device hashes every string of every
    logged body under its salt: a lookup-self response holds about twenty)."""
    mac = HmacSha256(salt)
    return lambda value: PREFIX + mac.digest(value.encode()).hex()


def hash_structure(hash_text: Callable[[str], str], value: Any) -> Any:
    """A copy of `value` with every string inside it (recursively, map keys excepted, as Vault's
    hashstructure) hashed by `hash_text`; numbers, booleans and nulls are kept. Anything else is hashed
    as its text."""
    kind = type(value)  # exact types first: this runs for every value of every logged body
    if kind is str:
        return hash_text(value)
    if kind is dict:
        return {k if type(k) is str else str(k): hash_structure(hash_text, v) for k, v in value.items()}
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if isinstance(value, str):
        return hash_text(value)
    if isinstance(value, dict):
        return {str(k): hash_structure(hash_text, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [hash_structure(hash_text, v) for v in value]
    if isinstance(value, (bool, int, float)):
        return value
    return hash_text(str(value))


def plain_structure(value: Any) -> Any:
    """A JSON-safe copy of `value` (log_raw): what cannot be JSON becomes its text."""
    if isinstance(value, dict):
        return {str(k): plain_structure(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_structure(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)
