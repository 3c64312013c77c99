"""Which PKCS#11 token keeps the transit engine's hsm-* keys: the pkcs11 seal's first token by priority,
through the Hsm the seal holds open (so the keys share its session, worker thread and reconnects). The
shamir seal has no token, and the core then refuses hsm-* key types."""

from __future__ import annotations

from engine.token_keys import TokenKeys
from hsm import HsmTokenKeys
from sealer.seals.base import Seal
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.tokens import TokenSet


def token_keys_for(seal: Seal | Pkcs11Seal) -> TokenKeys | None:
    if isinstance(seal, TokenSet):
        primary = seal.tokens[0]
    elif isinstance(seal, Pkcs11Seal):
        primary = seal
    else:
        return None
    # Looked up at each call: the seal opens its token after the core is built, and may reopen it.
    return HsmTokenKeys(lambda: primary.hsm)
