"""batch_input as Vault's transit endpoints read it, and the status of a batch answer.

Every item is processed on its own: a failed item carries its error in its result. The answer's status
says whether all went well (Vault's batchRequestResponse): 400 if any item failed for a reason the caller
can fix, else 500 if one failed inside; `partial_failure_response_code` replaces that status when at
least one item succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.backends.transit import b64
from engine.backends.transit.errors import TransitError, TransitInternalError
from engine.errors import EngineError
from engine.request import Response


def go_type(value: Any) -> str:
    """How Go names the type of a decoded JSON value, for Vault's decoding messages."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "json.Number"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _list(raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise TransitError(f"failed to parse batch input: source data must be an array or slice, got {go_type(raw)}")
    if not raw:
        raise TransitError("missing batch input to process")
    return raw


def typed_items(
    raw: Any, *, strings: tuple[str, ...], required: dict[str, str] | None = None, no_null: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Items with string fields and an optional int key_version (Vault's decodeBatchRequestItems, used by
    encrypt, decrypt and rewrap). `required` maps a field that must be present to Vault's message; a JSON
    null counts as absent except for the `no_null` fields."""
    required = required or {}
    items, errors = [], []
    for i, item in enumerate(_list(raw)):
        if not isinstance(item, dict):
            raise TransitError(f"failed to parse batch input: [{i}] expected a map, got '{go_type(item)}'")
        decoded: dict[str, Any] = {name: "" for name in strings}
        decoded["key_version"] = 0
        for name in strings:
            if name not in item:
                if name in required:
                    errors.append(f"'[{i}].{name}' {required[name]}")
                continue
            value = item[name]
            if value is None and name not in no_null:
                continue
            if isinstance(value, str):
                decoded[name] = value
            else:
                errors.append(f"'[{i}].{name}' expected type 'string', got unconvertible type '{go_type(value)}'")
        version = item.get("key_version")
        if isinstance(version, bool) or not isinstance(version, int | str | type(None)):
            errors.append(f"'[{i}].key_version' expected type 'int', got unconvertible type '{go_type(version)}'")
        elif isinstance(version, int):
            decoded["key_version"] = version
        elif isinstance(version, str):
            try:
                decoded["key_version"] = int(version)
            except ValueError:
                errors.append(
                    f"error decoding json.Number into [{i}].key_version: strconv.ParseInt: "
                    f'parsing "{version}": invalid syntax'
                )
        items.append(decoded)
    _raise_decoding(errors)
    return items


def string_items(raw: Any) -> list[dict[str, str]]:
    """Items as maps of strings, absent fields absent (Vault's mapstructure into map[string]string, used by
    sign, verify and hmac, which tell a missing field from an empty one)."""
    items, errors = [], []
    for i, item in enumerate(_list(raw)):
        if not isinstance(item, dict):
            raise TransitError(f"failed to parse batch input: '[{i}]' expected a map, got '{go_type(item)}'")
        decoded: dict[str, str] = {}
        for name, value in item.items():
            if value is None:
                decoded[name] = ""
            elif isinstance(value, str):
                decoded[name] = value
            else:
                errors.append(f"'[{i}][{name}]' expected type 'string', got unconvertible type '{go_type(value)}'")
        items.append(decoded)
    _raise_decoding(errors)
    return items


def _raise_decoding(errors: list[str]) -> None:
    """mapstructure's Error text: the count, then the sorted points."""
    if errors:
        joined = "\n".join(sorted(f"* {e}" for e in errors))
        raise TransitError(f"failed to parse batch input: {len(errors)} error(s) decoding:\n\n{joined}")


def decode_b64(text: str) -> bytes:
    """Go's base64.StdEncoding, its error message as the user error."""
    try:
        return b64.decode(text)
    except b64.Base64Error as exc:
        raise TransitError(str(exc)) from None


@dataclass
class Outcome:
    """Vault's successesInBatch / userErrorInBatch / internalErrorInBatch."""

    success: bool = False
    user_error: bool = False
    internal_error: bool = False

    def failed(self, exc: EngineError) -> str:
        if exc.status >= 500:
            self.internal_error = True
        else:
            self.user_error = True
        return exc.message

    def succeeded(self) -> None:
        self.success = True

    def single_error(self, message: str) -> EngineError:
        """A request of one item that failed answers with that item's error, as its own kind."""
        return TransitInternalError(message) if self.internal_error else TransitError(message)

    def respond(self, response: Response, partial_failure_code: int | None) -> Response:
        if not (self.user_error or self.internal_error):
            return response
        code = 400 if self.user_error else 500
        if partial_failure_code is not None and self.success:
            if 1 <= partial_failure_code <= 599:
                code = partial_failure_code
            else:
                response.warnings.append(
                    f"invalid HTTP response code override from partial_failure_response_code, reverting to {code}"
                )
        response.status = code
        return response
