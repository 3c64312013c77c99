"""The pkcs11 seal: one or more PKCS#11 tokens, each with its own priority, and what is known of their
health. The root key is wrapped under every token; unsealing takes the first (in priority order) that
answers. Which stored wrapping a token opens is the seal manager's business (sealer/seal_wrappings.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sealer.seals.base import SealUnavailable
from sealer.seals.pkcs11 import Pkcs11Seal

log = logging.getLogger("sealer.seal")


@dataclass
class TokenHealth:
    healthy: bool | None = None  # None: not checked yet
    error: str | None = None
    checked_at: float = 0.0

    def record(self, error: str | None) -> bool:
        """Note a check's outcome; True if it differs from the last one (worth a log line)."""
        changed = (self.healthy, self.error) != (error is None, error)
        self.healthy = error is None
        self.error = error
        self.checked_at = time.time()
        return changed


class TokenSet:
    type = "pkcs11"
    auto_unseal = True
    noun = "PKCS#11 token"  # what messages call a member

    def __init__(self, tokens: Iterable[Pkcs11Seal]) -> None:
        # sorted() is stable: equal priorities keep the configuration's order.
        self.tokens = sorted(tokens, key=lambda token: token.priority)
        if not self.tokens:
            raise ValueError("a TokenSet needs at least one token")
        names = [token.name for token in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError(f"token names must be distinct, got {names}")
        self.health = {token.name: TokenHealth() for token in self.tokens}
        # Sessions on other keys of the same tokens (rotated wrappings), opened on demand.
        self._variants: dict[tuple[str, str, str, str | None], Pkcs11Seal] = {}

    def __repr__(self) -> str:
        return f"<TokenSet {[token.name for token in self.tokens]}>"

    def token(self, name: str) -> Pkcs11Seal:
        for token in self.tokens:
            if token.name == name:
                return token
        raise KeyError(name)

    async def open(self) -> None:
        """Open every token that answers; SealUnavailable (naming each failure) only if none does."""
        failures = await self.try_open()
        if len(failures) == len(self.tokens):
            raise SealUnavailable("no PKCS#11 token is usable: " + "; ".join(failures))

    async def try_open(self) -> list[str]:
        """Open every token that answers and note why the others do not (in their health); never raises.
        A token whose configured keys are gone may still open its wrapping under rotated keys."""
        failures = []
        for token in self.tokens:
            try:
                await token.open()
            except SealUnavailable as exc:
                self.health[token.name].record(str(exc))
                failures.append(f"{token.name}: {exc}")
        return failures

    async def open_token(self, token: Pkcs11Seal) -> None:
        try:
            await token.open()
        except SealUnavailable as exc:
            self.health[token.name].record(str(exc))
            raise

    def variant(self, token: Pkcs11Seal, key_label: str, hmac_key_label: str,
                token_label: str | None = None, *, generate_key: bool = False) -> Pkcs11Seal:
        """`token` with other key labels (or another token on the same library and PIN), kept open for
        reuse and closed with the set."""
        key = (token.name, key_label, hmac_key_label, token_label)
        found = self._variants.get(key)
        if found is None:
            found = token.with_keys(key_label, hmac_key_label, token_label=token_label, generate_key=generate_key)
            self._variants[key] = found
        return found

    async def close(self) -> None:
        for seal in [*self.tokens, *self._variants.values()]:
            try:
                await seal.close()
            except Exception as exc:  # close them all; one failure must not leak the others' sessions
                log.warning("closing token %s failed: %s", seal.name, exc)

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "tokens": [token.describe() for token in self.tokens]}
