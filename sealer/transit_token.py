"""Which PKCS#11 token keeps the transit engine's hsm-* keys: the pkcs11 seal's first token by priority,
through the keys process that token's seal owns (hsm/keys_process.py: the same token and PIN, a session of
its own in another process). The shamir seal has no token, and the core then refuses hsm-* key types."""

from __future__ import annotations

from engine.token_keys import TokenKeys
from sealer.seals.base import Seal
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet


def token_keys_for(seal: Seal | Pkcs11Seal) -> TokenKeys | None:
    if isinstance(seal, TokenSet):
        return seal.tokens[0].token_keys
    if isinstance(seal, Pkcs11Seal):
        return seal.token_keys
    return None
