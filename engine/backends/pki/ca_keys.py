"""The CA's private key: held in process (stored behind the barrier, as Vault does) or, for key_type hsm,
generated and used inside the PKCS#11 token, where it stays non-extractable. A key is stored as a small
record; `signer()` turns a record into something that signs certificates and CRLs."""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.crypto import x509 as pki_crypto
from engine.errors import BadRequest
from engine.token_keys import TokenKeys, calling_token

LABEL_PREFIX = "sealer-pki"
HSM = "hsm"
# key_bits for key_type hsm -> the token's curve name.
TOKEN_CURVES = {0: "P-256", 256: "P-256", 384: "P-384"}


@dataclass(frozen=True)
class KeyRecord:
    """What is stored of a CA key: the PEM of an in-process key, or the token label and public key."""

    key_id: str
    key_type: str  # rsa, ec, ed25519 or hsm
    pem: str = field(default="", repr=False)
    token_label: str = ""
    public_key_der: bytes = b""

    @property
    def in_token(self) -> bool:
        return self.key_type == HSM

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "key_type": self.key_type,
            "pem": self.pem,
            "token_label": self.token_label,
            "public_key_der": base64.b64encode(self.public_key_der).decode(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> KeyRecord:
        return cls(
            key_id=raw["key_id"],
            key_type=raw["key_type"],
            pem=raw.get("pem", ""),
            token_label=raw.get("token_label", ""),
            public_key_der=base64.b64decode(raw.get("public_key_der", "")),
        )


@dataclass(frozen=True)
class NewKey:
    record: KeyRecord
    signer: pki_crypto.Signer
    # The in-process key, for `exported` answers; None for a token key.
    pair: pki_crypto.KeyPair | None = field(repr=False)


class CaKeys:
    def __init__(self, token_keys: TokenKeys | None, mount_uuid: str) -> None:
        self._token = token_keys
        self._mount_uuid = mount_uuid

    def _label(self, key_id: str) -> str:
        # Unique per mount (its UUID survives remounts) and key.
        return f"{LABEL_PREFIX}/{self._mount_uuid}/{key_id}"

    def _require_token(self) -> TokenKeys:
        if self._token is None:
            raise BadRequest(
                "key_type hsm keeps the CA key in a PKCS#11 token, and this server's seal has no token; "
                "use key_type rsa, ec or ed25519"
            )
        return self._token

    async def create(self, key_type: str, key_bits: int) -> NewKey:
        key_id = str(uuid.uuid4())
        if key_type == HSM:
            if key_bits not in TOKEN_CURVES:
                raise BadRequest(f"unsupported bit length for an hsm key: {key_bits} (use 256 or 384)")
            token = self._require_token()
            label = self._label(key_id)
            public = await calling_token("generate a key pair", token.generate_ec_key(label, TOKEN_CURVES[key_bits]))
            record = KeyRecord(key_id, HSM, token_label=label, public_key_der=public)
            return NewKey(record, self.signer(record), None)
        try:
            # Off the event loop: an RSA 4096 key takes long enough to stall every other request.
            pair = await asyncio.to_thread(pki_crypto.generate_key, key_type, key_bits)
        except pki_crypto.KeySpecError as exc:
            raise BadRequest(str(exc)) from None
        record = KeyRecord(key_id, key_type, pem=pair.pem())
        return NewKey(record, pki_crypto.SoftwareSigner(pair), pair)

    @staticmethod
    def imported(pair: pki_crypto.KeyPair) -> NewKey:
        """A key brought in by config/ca: held in process, like a generated one."""
        record = KeyRecord(str(uuid.uuid4()), pair.key_type, pem=pair.pem())
        return NewKey(record, pki_crypto.SoftwareSigner(pair), pair)

    def signer(self, record: KeyRecord) -> pki_crypto.Signer:
        if not record.in_token:
            return pki_crypto.SoftwareSigner(pki_crypto.load_key(record.pem))
        token = self._require_token()

        async def sign_digest(digest: bytes) -> bytes:
            return await calling_token("sign", token.ec_sign(record.token_label, digest))

        return pki_crypto.TokenSigner(record.public_key_der, sign_digest)

    async def discard(self, record: KeyRecord) -> None:
        """Destroy a key no longer referenced (a token key is removed from the token)."""
        if record.in_token and self._token is not None:
            await calling_token("destroy a key", self._token.destroy(record.token_label))
