"""Reading KV v2's less ordinary inputs with Vault's rules and messages: the check-and-set option, the
list of version numbers, custom_metadata, and the signed duration of config's delete_version_after."""

from __future__ import annotations

import json
import math
from typing import Any

from engine.backends.kv_v2.records import KeyMetadata, KvConfig
from engine.errors import BadRequest
from engine.framework import parse_duration

CAS_MISMATCH = "check-and-set parameter did not match the current version"
CAS_REQUIRED = "check-and-set parameter required for this call"
CAS_UNPARSABLE = "error parsing check-and-set parameter"

MAX_CUSTOM_METADATA_KEYS = 64
MAX_CUSTOM_METADATA_KEY_LENGTH = 128
MAX_CUSTOM_METADATA_VALUE_LENGTH = 512
CUSTOM_METADATA_ERROR = "custom_metadata validation failed"


class _Unconvertible(ValueError):
    pass


def _weak_int(value: Any) -> int:
    """mapstructure's WeakDecode into an int: null is 0, bools are 0/1, numeric strings parse."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
        except ValueError:
            raise _Unconvertible(value) from None
    raise _Unconvertible(value)


def check_cas(options: dict[str, Any], given: bool, config: KvConfig, meta: KeyMetadata) -> None:
    """Vault's validateCheckAndSetOption: a cas given must equal the key's current version (0: the key
    must not exist yet); without one, the write is refused if the mount or the key requires it."""
    if given and "cas" in options:
        try:
            cas = _weak_int(options["cas"])
        except _Unconvertible:
            raise BadRequest(CAS_UNPARSABLE) from None
        if cas != meta.current_version:
            raise BadRequest(CAS_MISMATCH)
    elif config.cas_required or meta.cas_required:
        raise BadRequest(CAS_REQUIRED)


def version_numbers(raw: Any) -> list[int]:
    """Vault's TypeCommaIntSlice: a list of ints, "1,2" or a single number."""
    if raw is None:
        return []
    items: list[Any]
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list):
        items = raw
    else:
        items = [raw]
    try:
        return [_strict_int(item) for item in items]
    except _Unconvertible:
        shown = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        raise BadRequest(f"field 'versions': expected a list of ints, got '{shown}'") from None


def _strict_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Unconvertible(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Unconvertible(value) from None
    raise _Unconvertible(value)


def signed_duration(name: str, raw: Any) -> int:
    """Vault's TypeSignedDurationSecond: like a duration, but a leading '-' is allowed."""
    try:
        if isinstance(raw, bool):
            raise ValueError(raw)
        if isinstance(raw, int | float):
            return int(raw)
        text = str(raw).strip()
        if text.startswith("-"):
            return -parse_duration(text[1:])
        return parse_duration(text)
    except ValueError:
        raise BadRequest(f"field '{name}': expected a duration, got '{raw}'") from None


# --- custom_metadata ----------------------------------------------------------------------------------


def _go_type(value: Any) -> str:
    return "map[string]interface {}" if isinstance(value, dict) else "[]interface {}"


def _weak_string(value: Any) -> str:
    """mapstructure's WeakDecode into a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise _Unconvertible(f"'' expected type 'string', got unconvertible type '{_go_type(value)}', value: '{value}'")


def parse_custom_metadata(raw: dict[str, Any], *, drop_nulls: bool = False) -> dict[str, str]:
    """custom_metadata as the string map it is stored as. A PATCH keeps its nulls out (they remove
    keys in the merge); a write turns them into empty strings, which validation then refuses."""
    parsed: dict[str, str] = {}
    for key, value in raw.items():
        if drop_nulls and value is None:
            continue
        try:
            parsed[str(key)] = _weak_string(value)
        except _Unconvertible as exc:
            raise BadRequest(f"{CUSTOM_METADATA_ERROR}: {exc}") from None
    return parsed


def validate_custom_metadata(metadata: dict[str, str]) -> None:
    """Vault's validateCustomMetadata: at most 64 keys; each key 1-128 and each value 1-512 bytes long,
    printable. Every problem is reported at once, in go-multierror's list format."""
    errors: list[str] = []
    if len(metadata) > MAX_CUSTOM_METADATA_KEYS:
        errors.append(
            f"{CUSTOM_METADATA_ERROR}: payload must contain at most {MAX_CUSTOM_METADATA_KEYS} keys, "
            f"provided {len(metadata)}"
        )
    else:
        for key, value in sorted(metadata.items()):
            errors.extend(_custom_metadata_errors(key, value))
    if errors:
        raise BadRequest(_multierror(errors))


def _custom_metadata_errors(key: str, value: str) -> list[str]:
    errors = []
    quoted = json.dumps(key, ensure_ascii=False)
    key_length, value_length = len(key.encode()), len(value.encode())
    if not 0 < key_length <= MAX_CUSTOM_METADATA_KEY_LENGTH:
        errors.append(
            f"{CUSTOM_METADATA_ERROR}: length of key {quoted} is {key_length} but must be "
            f"0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_LENGTH}"
        )
    if not 0 < value_length <= MAX_CUSTOM_METADATA_VALUE_LENGTH:
        errors.append(
            f"{CUSTOM_METADATA_ERROR}: length of value for key {quoted} is {value_length} but must be "
            f"0 < len(value) <= {MAX_CUSTOM_METADATA_VALUE_LENGTH}"
        )
    if not key.isprintable():
        errors.append(f"{CUSTOM_METADATA_ERROR}: key {quoted} ({key}) contains unprintable characters")
    if not value.isprintable():
        errors.append(f"{CUSTOM_METADATA_ERROR}: value for key {quoted} contains unprintable characters")
    return errors


def _multierror(errors: list[str]) -> str:
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {error}" for error in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"
