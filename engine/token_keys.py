"""Keys kept inside a PKCS#11 token (an HSM): generated there, used there, never extractable.

The transit engine's hsm-* key types live behind this protocol. The engine names each key by a label it
derives itself and never sees key material: it asks the token to encrypt, decrypt or sign. The daemon
hands an implementation (hsm.TokenKeysProcess, on the seal's token) to the Core; with no token there is none.

Failures other than a blob that does not authenticate (token gone, key missing, timeouts) are raised as
the implementation's own exceptions: the engine reports them as TokenKeysFailed without looking inside.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from engine.errors import EngineError


class TokenKeys(Protocol):
    async def generate_aes_key(self, label: str) -> None:
        """A new AES-256 key for AES-GCM, stored in the token as non-extractable and sensitive. An
        existing object with this label is an orphan of an interrupted operation and is replaced."""
        ...

    async def aes_gcm_encrypt(self, label: str, plaintext: bytes, aad: bytes) -> bytes:
        """nonce(12) || ciphertext || tag(16), with a fresh random nonce."""
        ...

    async def aes_gcm_decrypt(self, label: str, blob: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or None when the blob does not authenticate (tampered, wrong key or AAD)."""
        ...

    async def generate_ec_key(self, label: str, curve: str) -> bytes:
        """A new ECDSA key pair on `curve` (transit asks for "P-256", PKI CAs for "P-256" or "P-384"), the
        private half non-extractable and sensitive; returns the public key as DER SubjectPublicKeyInfo."""
        ...

    async def ec_sign(self, label: str, digest: bytes) -> bytes:
        """CKM_ECDSA over a digest: the raw signature r || s, each the size of the curve's order."""
        ...

    async def ec_public_key(self, label: str) -> bytes:
        """The public key of the pair, as DER SubjectPublicKeyInfo."""
        ...

    async def destroy(self, label: str) -> None:
        """Remove every object with this label from the token (none: nothing to do)."""
        ...

    async def forget_found_keys(self) -> None:
        """Drop whatever the implementation remembers of the token's objects (such as key handles): while
        this daemon was sealed or a standby, another node may have destroyed and recreated keys under the
        same labels. Called each time the core starts serving."""
        ...

    async def key_attributes(self, label: str) -> dict[str, Any]:
        """What the token says about the key (the secret or private one) with this label: class, key type,
        token, private, sensitive, extractable, always_sensitive, never_extractable, and value_readable
        (whether reading CKA_VALUE succeeded). For tests and diagnostics."""
        ...


class TokenKeysFailed(EngineError):
    """The token could not do what a transit operation needed (unreachable, key missing, timeout)."""

    status = 500


T = TypeVar("T")


async def calling_token(what: str, call: Awaitable[T]) -> T:
    """Await a call to the token: the token's own failures (whose types the engine cannot know) become
    TokenKeysFailed saying what could not be done; the engine's errors pass through."""
    try:
        return await call
    except EngineError:
        raise
    except Exception as exc:
        raise TokenKeysFailed(f"the PKCS#11 token could not {what}: {exc}") from exc


__all__ = ["TokenKeys", "TokenKeysFailed", "calling_token"]
