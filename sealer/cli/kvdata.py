"""`key=value` arguments into a request body, with the rules of Vault's kv-builder:

    key=value     a string
    key=@file     the file's contents
    key=\\@text    the literal "@text"
    key=-         all of stdin, as a string
    -             stdin holds a JSON object, merged in
    @file.json    the file holds a JSON object, merged in
    key=a key=b   a repeated key becomes a list ["a", "b"]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO


class DataError(ValueError):
    pass


def parse_kv(args: Sequence[str], stdin: TextIO) -> dict[str, Any]:
    result: dict[str, Any] = {}
    stdin_used = False

    def read_stdin() -> str:
        nonlocal stdin_used
        if stdin_used:
            raise DataError("stdin already consumed: use '-' only once")
        stdin_used = True
        return stdin.read()

    for arg in args:
        if not arg:
            continue
        key, sep, value = arg.partition("=")
        if not sep:
            if arg == "-":
                _merge_json(result, read_stdin(), "stdin")
            elif arg.startswith("@"):
                _merge_json(result, _read_file(arg[1:]), arg[1:])
            else:
                raise DataError(f"format must be key=value, got {arg!r}")
            continue
        if value.startswith("@"):
            value = _read_file(value[1:])
        elif value.startswith("\\@"):
            value = value[1:]
        elif value == "-":
            value = read_stdin()
        if key in result:
            previous = result[key]
            result[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[key] = value
    return result


def _read_file(name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"error reading {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"error reading {name}: not UTF-8 text") from None


def _merge_json(result: dict[str, Any], text: str, source: str) -> None:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{source} must hold a JSON object")
    result.update(data)


def parse_flag_pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    """A repeatable K=V flag (-metadata, -options, -custom-metadata): plain strings, no @file or stdin."""
    pairs: dict[str, str] = {}
    for value in values or ():
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise DataError(f"-{flag} takes key=value, got {value!r}")
        pairs[key] = text
    return pairs
