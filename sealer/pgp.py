"""Shares and root tokens encrypted to their holders' OpenPGP keys, as Vault does it (`pgp_keys`,
`recovery_pgp_keys`, `root_token_pgp_key` on init; `pgp_keys` on rekey).

A key arrives in Vault's form: base64 of one binary OpenPGP public key. The plaintext is Vault's, so
holders decrypt with the tools they already use (`echo $KEY | base64 -d | gpg -dq`):
- a share: the hex text of the share (vault/init.go generateShares, vault/rekey.go);
- a root token: the token itself (vault/init.go).
Each result is the binary OpenPGP message, base64-encoded (sys/init also shows it as hex, as Vault does).
Fingerprints are the primary keys' fingerprints in lowercase hex, as Vault's `pgp_fingerprints`.

The OpenPGP work is Sequoia's (pysequoia), never hand-written. It is CPU work in native code: async
callers use the `*_async` variants, which run it off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pysequoia import Cert, encrypt

from engine.errors import BadRequest

KEYBASE_PREFIX = "keybase:"
# pysequoia raises RuntimeError for OpenPGP failures; ValueError covers argument conversion.
_PGP_ERRORS = (RuntimeError, ValueError)


def check_keys(pgp_keys: Sequence[str], field: str = "pgp_keys") -> list[str]:
    """Parse every key and prove it can be encrypted to; return their fingerprints.

    Run it before changing any state: BadRequest names the first bad key as `field[index]`."""
    return [cert.fingerprint for cert in _certs(pgp_keys, field)]


def check_key(pgp_key: str, field: str = "root_token_pgp_key") -> str:
    """check_keys for a single key (root_token_pgp_key): its fingerprint, or BadRequest naming `field`."""
    return _cert(pgp_key, field).fingerprint


def encrypt_shares(pgp_keys: Sequence[str], shares: Sequence[bytes], field: str = "pgp_keys",
                   mismatch: str = "incorrect number of PGP keys") -> tuple[list[str], list[str]]:
    """Encrypt share i (its hex text, as Vault does) to key i.

    Returns (base64 of each binary OpenPGP message, each key's fingerprint), in the keys' order.
    BadRequest(`mismatch`) unless there is exactly one key per share; BadRequest naming `field[index]`
    for a key that does not parse or cannot be encrypted to."""
    if len(pgp_keys) != len(shares):
        raise BadRequest(mismatch)
    certs = _certs(pgp_keys, field)
    encrypted = [_encrypt(cert, share.hex().encode("ascii")) for cert, share in zip(certs, shares, strict=True)]
    return encrypted, [cert.fingerprint for cert in certs]


def encrypt_token(pgp_key: str, token: str, field: str = "root_token_pgp_key") -> tuple[str, str]:
    """Encrypt a token (its text) to one key: (base64 of the binary OpenPGP message, fingerprint)."""
    cert = _cert(pgp_key, field)
    return _encrypt(cert, token.encode("utf-8")), cert.fingerprint


async def check_keys_async(pgp_keys: Sequence[str], field: str = "pgp_keys") -> list[str]:
    return await asyncio.to_thread(check_keys, list(pgp_keys), field)


async def check_key_async(pgp_key: str, field: str = "root_token_pgp_key") -> str:
    return await asyncio.to_thread(check_key, pgp_key, field)


async def encrypt_shares_async(pgp_keys: Sequence[str], shares: Sequence[bytes], field: str = "pgp_keys",
                               mismatch: str = "incorrect number of PGP keys") -> tuple[list[str], list[str]]:
    return await asyncio.to_thread(encrypt_shares, list(pgp_keys), list(shares), field, mismatch)


async def encrypt_token_async(pgp_key: str, token: str, field: str = "root_token_pgp_key") -> tuple[str, str]:
    return await asyncio.to_thread(encrypt_token, pgp_key, token, field)


def load_public_key(value: str) -> str:
    """One item of the CLI's `-pgp-keys` / `-root-token-pgp-key`, in Vault's form for the API.

    Like Vault's CLI: a path (a leading `@` is allowed) to a file holding the public key as binary,
    ASCII armor or base64. Also the base64 key itself. Only the public parts are sent, even if the
    file holds a private key. Raises ValueError with a message for people."""
    value = value.strip()
    if value.startswith(KEYBASE_PREFIX):
        raise ValueError(
            f"{value!r}: Keybase keys are not supported (Sealer makes no calls to keybase.io); export the "
            "public key to a file (gpg --export KEY-ID > key.gpg) and give the file's path instead"
        )
    path = Path(value.removeprefix("@"))
    if _is_file(path):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read PGP key file {str(path)!r}: {exc.strerror}") from None
    elif _base64(value.encode()) is not None:
        data = value.encode()
    else:
        raise ValueError(f"{_short(value)!r} is neither a readable file nor a base64-encoded PGP public key")
    raw = _base64(data)
    try:
        certs = Cert.split_bytes(data if raw is None else raw)
    except _PGP_ERRORS as exc:
        raise ValueError(f"{_short(value)}: not an OpenPGP public key: {_reason(exc)}") from None
    if len(certs) != 1:
        raise ValueError(f"{_short(value)}: expected exactly one OpenPGP key, found {len(certs)}")
    # bytes(Cert) serialises the public parts only: a private key file never leaves this machine whole.
    return base64.b64encode(bytes(certs[0])).decode("ascii")


def _certs(pgp_keys: Sequence[str], field: str) -> list[Cert]:
    return [_cert(key, f"{field}[{index}]") for index, key in enumerate(pgp_keys)]


def _cert(pgp_key: str, where: str) -> Cert:
    if not isinstance(pgp_key, str):
        raise BadRequest(f"error decoding given PGP key {where}: expected a base64 string")
    try:
        raw = base64.b64decode(pgp_key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"error decoding given PGP key {where}: {exc}") from None
    try:
        cert = Cert.from_bytes(raw)
    except _PGP_ERRORS as exc:
        raise BadRequest(f"error parsing given PGP key {where}: {_reason(exc)}") from None
    # Sequoia encrypts to revoked or expired keys when asked; Vault's library refuses, and so do we.
    if cert.is_revoked:
        raise BadRequest(f"PGP key {where} ({cert.fingerprint}) is revoked")
    expiration = cert.expiration
    if expiration is not None and expiration <= datetime.now(UTC):
        raise BadRequest(f"PGP key {where} ({cert.fingerprint}) expired on {expiration:%Y-%m-%d}")
    try:
        encrypt(b"", recipients=[cert], armor=False)
    except _PGP_ERRORS as exc:
        raise BadRequest(f"PGP key {where} ({cert.fingerprint}) cannot be encrypted to: {_reason(exc)}") from None
    return cert


def _encrypt(cert: Cert, plaintext: bytes) -> str:
    return base64.b64encode(encrypt(plaintext, recipients=[cert], armor=False)).decode("ascii")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a base64 key longer than a file name may be
        return False


def _base64(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(b"".join(data.split()), validate=True) or None
    except (binascii.Error, ValueError):
        return None


def _reason(exc: Exception) -> str:
    # Sequoia's messages carry a Rust backtrace when RUST_BACKTRACE is set: keep the first line.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


__all__ = [
    "check_key",
    "check_key_async",
    "check_keys",
    "check_keys_async",
    "encrypt_shares",
    "encrypt_shares_async",
    "encrypt_token",
    "encrypt_token_async",
    "load_public_key",
]
