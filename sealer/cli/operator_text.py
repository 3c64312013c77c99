"""What the `sealer operator` ceremony commands share: Vault's wrapped help text, its exit for a refused
request, the reading of PGP key flags, and the choice of which encoding of the new shares to print."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from sealer.cli.base import CommandFailed
from sealer.cli.client import RequestError
from sealer.pgp import load_public_key

WRAP = 78  # Vault's maxLineLength


def wrap(text: str) -> str:
    return textwrap.fill(text, WRAP)


def failed(what: str, exc: RequestError) -> CommandFailed:
    # Vault exits 2 when the server refuses or cannot be reached.
    return CommandFailed(f"{what}: {exc}", code=2)


def public_key(flag: str, value: str) -> str:
    """The armored public key in the file a -FLAG names, or the error Vault prints for that flag."""
    try:
        return load_public_key(value)
    except ValueError as exc:
        raise CommandFailed(f"Error parsing -{flag}: {exc}") from None


def shown_keys(response: Mapping[str, Any], hex_name: str, b64_name: str) -> list[str]:
    """The shares as Vault prints them: base64 when the server gave every one in base64, else hex."""
    hex_keys = response.get(hex_name) or []
    b64_keys = response.get(b64_name) or []
    return b64_keys if len(b64_keys) == len(hex_keys) else hex_keys
