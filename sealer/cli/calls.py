"""One way for every command to say what it was doing when the server refused or could not be reached:
`with failing("Error reading secret/x"): ...` turns a RequestError into a CommandFailed with that prefix,
which `main` prints on stderr with exit code 1 (2 when the server is sealed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sealer.cli.base import CommandFailed, Context, Exit
from sealer.cli.client import ClientError, RequestError

# A sealed server (503) exits 2, as `sealer status` does for it, so scripts can tell "sealed" from "failed".
SEALED_STATUS = 503


@contextmanager
def failing(what: str, code: int = Exit.ERROR, note: str = "") -> Iterator[None]:
    """`note` follows the server's message: a hint at what the user can do about it."""
    try:
        yield
    except RequestError as exc:
        sealed = isinstance(exc, ClientError) and exc.status == SEALED_STATUS
        raise CommandFailed(f"{what}: {exc}{note}", Exit.SEALED if sealed else code) from None


def none_if_missing(exc: ClientError) -> None:
    """As Vault's client: a 404 on a read or list means "nothing there"; anything else is re-raised."""
    if exc.status != 404:
        raise exc


def mount_path(path: str) -> str:
    """A mount path as the API stores it: no leading slash, one trailing slash."""
    return path.strip().strip("/") + "/"


def list_keys(ctx: Context, path: str, note: str = "") -> tuple[Mapping[str, Any], list[Any]]:
    """LIST `path` as Vault's CLI does: the answer and its keys; a 404, or an answer without a key list, is
    "No value found" (`note` follows both messages, as in `failing`)."""
    with failing(f"Error listing {path}", note=note):
        try:
            secret = ctx.client().list(path)
        except ClientError as exc:
            none_if_missing(exc)
            secret = None
    keys = ((secret or {}).get("data") or {}).get("keys")
    if secret is None or not isinstance(keys, list):
        raise CommandFailed(f"No value found at {path}{note}")
    return secret, keys
