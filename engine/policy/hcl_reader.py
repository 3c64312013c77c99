"""Reading policy text (HCL1, or JSON) into ordered key/value pairs.

Vault parses policies with HCL1, where a key may repeat: two `path "secret/*" { ... }` blocks in one
policy are two rules (merged later), not one overwriting the other. pyhcl's public `loads` folds
repeated keys into a dict and loses the first block's capabilities, so this module keeps pyhcl's
grammar but swaps its dict folding for an order-preserving list of pairs (`Items`). JSON gets the same
treatment through `object_pairs_hook`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from hcl.parser import HclParser


class Items(list[tuple[str, Any]]):
    """An HCL/JSON object as written: (key, value) pairs in order, duplicates kept."""


class HclSyntaxError(ValueError):
    """The text is neither valid HCL nor valid JSON; the message carries the line and column."""


class _PairsParser(HclParser):
    # pyhcl calls this for every object (and the top level) with the parsed (key, value) pairs.
    def objectlist_flat(self, lt: list[tuple[str, Any]], replace: bool) -> Items:
        return Items(lt)


_PYHCL_POSITION = re.compile(r"^Line (\d+), column (\d+): (.*)$", re.DOTALL)


def read(text: str) -> Items:
    """The top-level object of a policy. JSON when the first non-blank character is '{', as HCL1
    decides; HCL otherwise."""
    if text.lstrip().startswith("{"):
        return _read_json(text)
    return _read_hcl(text)


def _read_json(text: str) -> Items:
    try:
        value = json.loads(text, object_pairs_hook=Items)
    except json.JSONDecodeError as exc:
        raise HclSyntaxError(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, Items):
        raise HclSyntaxError("line 1, column 1: a policy must be a JSON object")
    return value


@functools.cache
def _parser() -> _PairsParser:
    # Building pyhcl's parser generates its LALR tables (70-250 ms: its vendored ply keeps no table
    # cache); one instance serves every parse (parsing is synchronous, so calls never interleave).
    return _PairsParser()


def warm_up() -> None:
    """Build the parser now (at process start) rather than inside the first unseal or request."""
    _parser()


def _read_hcl(text: str) -> Items:
    try:
        value = _parser().parse(text)
    except (ValueError, ArithmeticError) as exc:  # pyhcl evaluates arithmetic: "x = 1/0"
        raise HclSyntaxError(_describe(str(exc), text)) from None
    return value if isinstance(value, Items) else Items()


def _describe(message: str, text: str) -> str:
    """pyhcl reports 'Line L, column P' where P is really the offset in the whole text; turn it into
    a real column and drop its long list of expected tokens."""
    found = _PYHCL_POSITION.match(message)
    if found is None:
        return message.split("; expected")[0].lower()
    line, offset, what = int(found.group(1)), int(found.group(2)), found.group(3)
    column = offset - text.rfind("\n", 0, offset)
    return f"line {line}, column {column}: {what.split('; expected')[0]}"


def pairs(value: Any) -> Iterator[tuple[str, Any]] | None:
    """The (key, value) pairs of an object value, whichever way it was written: a block body
    (`Items`), a nested block (`path "a" "b" {}` gives a dict), or a JSON object. None if `value` is
    not an object."""
    if isinstance(value, Items):
        return iter(value)
    if isinstance(value, dict):
        return iter(value.items())
    return None


def line_of(text: str, key: str) -> int | None:
    """The first line where `key` appears as a key (quoted or bare, followed by '=', ':' or a block);
    used to point at unknown keys, which pyhcl does not locate."""
    pattern = re.compile(r'(^|[\s{,])"?' + re.escape(key) + r'"?\s*[=:{"]')
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line):
            return number
    return None
