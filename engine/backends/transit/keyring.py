"""What one key can do (Vault's keysutil.Policy methods): encrypt, decrypt, sign, verify, give its HMAC
key, and make new versions. Software keys go through engine.crypto.transit; hsm-* keys through the token.

Checks and messages follow Vault's, in Vault's order, so that clients see the same errors.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from datetime import datetime

from engine.backends.transit import b64, keytypes
from engine.backends.transit.errors import ERR_TOO_OLD, TransitError, TransitInternalError
from engine.backends.transit.keytypes import Family
from engine.backends.transit.policy import KDF_HKDF_SHA256, KDF_HMAC_SHA256_COUNTER, KeyEntry, Policy
from engine.backends.transit.token import TokenAccess
from engine.crypto import hmac_sha256, random_bytes
from engine.crypto import transit as crypto

DEFAULT_VERSION_TEMPLATE = "vault:v{{version}}:"
CURRENT_CONVERGENT_VERSION = 3
HMAC_KEY_BYTES = 32
ED25519_SEED_BYTES = 32
MARSHALING = ("asn1", "jws")
_MISSING_CONTEXT = (
    "missing 'context' for key derivation; the key was created using a derived key, which means additional, "
    "per-request information must be included in order to perform operations with the key"
)
_GO_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class SignOptions:
    hash_algorithm: str = "sha2-256"
    marshaling: str = "asn1"
    signature_algorithm: str = ""  # RSA: "pss" (the default) or "pkcs1v15"
    salt_length: int = crypto.SALT_LENGTH_AUTO


@dataclass(frozen=True)
class Signature:
    text: str  # "vault:v<N>:<base64>"
    version: int
    public_key: bytes | None = None  # derived ed25519 keys: the key the context selected


class Keyring:
    def __init__(self, policy: Policy, token: TokenAccess) -> None:
        self.policy = policy
        self._token = token

    # -- versions and framing --------------------------------------------------------------------

    def _template_parts(self) -> tuple[str, str]:
        template = self.policy.version_template or DEFAULT_VERSION_TEMPLATE
        parts = template.split("{{version}}")
        if len(parts) != 2:
            raise TransitInternalError("error parsing version template")
        return parts[0], parts[1]

    def prefix(self, version: int) -> str:
        return (self.policy.version_template or DEFAULT_VERSION_TEMPLATE).replace("{{version}}", str(version))

    def _split(self, value: str, what: str) -> tuple[int, str]:
        """The version and the encoded body of a "vault:v<N>:<body>" value."""
        before, after = self._template_parts()
        if not value.startswith(before):
            raise TransitError(f"invalid {what}: no prefix")
        version_text, sep, body = value[len(before) :].partition(after)
        if not sep:
            raise TransitError(f"invalid {what}: wrong number of fields")
        if not _GO_INT.fullmatch(version_text):
            raise TransitError(f"invalid {what}: version number could not be decoded")
        return int(version_text), body

    def entry(self, version: int) -> KeyEntry:
        found = self.policy.keys.get(version)
        if found is None:
            raise TransitError("no such key version")
        return found

    def label(self, version: int) -> str:
        return self.entry(version).token_label

    def _version_for(self, version: int, purpose: str) -> int:
        """Vault's checks of a requested key_version for encryption or signing (0: the latest)."""
        p = self.policy
        if version == 0:
            return p.latest_version
        if version < 0:
            raise TransitError(f"requested version for {purpose} is negative")
        if version > p.latest_version:
            raise TransitError(f"requested version for {purpose} is higher than the latest key version")
        if p.min_encryption_version > 0 and version < p.min_encryption_version:
            raise TransitError(f"requested version for {purpose} is less than the minimum encryption key version")
        return version

    # -- derivation -----------------------------------------------------------------------------

    def key_material(self, context: bytes, version: int, length: int) -> bytes:
        """Vault's GetKey: the version's key, or the key derived from it and the context."""
        if not self.policy.derived:
            key = self.entry(version).key
            if key is None:
                raise TransitInternalError("the key version holds no key material")
            return key
        return self.derive(context, version, length)

    def derive(self, context: bytes, version: int, length: int) -> bytes:
        p = self.policy
        if not p.type.derivation_supported:
            raise TransitError(f"derivation not supported for key type {p.type}")
        if version <= 0 or version > p.latest_version:
            raise TransitError("invalid key version")
        if not context:
            raise TransitError(_MISSING_CONTEXT)
        key = self.entry(version).key or b""
        if p.kdf == KDF_HMAC_SHA256_COUNTER:
            return crypto.counter_mode_hmac_sha256(key, context, 256)
        if p.kdf != KDF_HKDF_SHA256:
            raise TransitInternalError("unsupported key derivation mode")
        if p.type.family is Family.ED25519:
            return crypto.ed25519_from_seed(crypto.hkdf_sha256(key, context, ED25519_SEED_BYTES))
        return crypto.hkdf_sha256(key, context, length)

    # -- encryption -----------------------------------------------------------------------------

    async def encrypt(self, version: int, context: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> str:
        p = self.policy
        if not p.type.encryption_supported:
            raise TransitError(f"message encryption not supported for key type {p.type}")
        version = self._version_for(version, "encryption")
        if p.type.in_token:
            blob = await self._token.encrypt(p.type, self.label(version), plaintext, aad)
        elif p.type.family is Family.AEAD:
            blob = self._seal(version, context, nonce, plaintext, aad)
        else:
            entry = self.entry(version)
            if entry.rsa is None:
                raise TransitInternalError("the key version holds no RSA key")
            try:
                blob = crypto.rsa_oaep_encrypt(entry.rsa.n, entry.rsa.e, plaintext)
            except ValueError as exc:
                raise TransitError(
                    "failed to RSA encrypt the plaintext: crypto/rsa: message too long for RSA key size"
                ) from exc
        return self.prefix(version) + b64.encode(blob)

    def _cipher(self) -> crypto.Cipher:
        if self.policy.type is keytypes.CHACHA20_POLY1305:
            return crypto.Cipher.CHACHA20_POLY1305
        return crypto.Cipher.AES_GCM

    def _seal(self, version: int, context: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        p = self.policy
        enc_bytes = p.type.key_bytes
        convergent = p.convergent_version_of(version)
        hmac_bytes = HMAC_KEY_BYTES if convergent > 2 else 0
        key = self.key_material(context, version, enc_bytes + hmac_bytes)
        if len(key) < enc_bytes + hmac_bytes:
            raise TransitInternalError("could not derive key, length too small")
        enc_key = key[:enc_bytes]
        if len(enc_key) != enc_bytes:
            raise TransitInternalError("could not derive enc key, length not correct")
        # Convergent version 2 keys its nonce with the context itself; version 3 with derived material.
        nonce_key = key[enc_bytes:] if hmac_bytes else context
        if p.convergent_encryption:
            if convergent == 1:
                if len(nonce) != crypto.NONCE_SIZE:
                    raise TransitError(
                        f"base64-decoded nonce must be {crypto.NONCE_SIZE} bytes long when using convergent "
                        "encryption with this key"
                    )
            elif convergent in (2, 3):
                if not nonce_key:
                    raise TransitInternalError("invalid hmac key length of zero")
                nonce = hmac_sha256(nonce_key, plaintext)[: crypto.NONCE_SIZE]
            else:
                raise TransitInternalError(f"unhandled convergent version {convergent}")
        elif not nonce:
            nonce = random_bytes(crypto.NONCE_SIZE)
        elif len(nonce) != crypto.NONCE_SIZE:
            raise TransitError(
                f"base64-decoded nonce must be {crypto.NONCE_SIZE} bytes long but given {len(nonce)} bytes"
            )
        sealed = crypto.aead_seal(self._cipher(), enc_key, nonce, plaintext, aad)
        return sealed if p.convergent_encryption and convergent == 1 else nonce + sealed

    async def decrypt(self, context: bytes, nonce: bytes, ciphertext: str, aad: bytes = b"") -> bytes:
        p = self.policy
        if not p.type.encryption_supported:
            raise TransitError(f"message decryption not supported for key type {p.type}")
        version, body = self._split(ciphertext, "ciphertext")
        if version == 0:
            version = 1  # the first implementation numbered keys from 0
        if version > p.latest_version:
            raise TransitError("invalid ciphertext: version is too new")
        if p.min_decryption_version > 0 and version < p.min_decryption_version:
            raise TransitError(ERR_TOO_OLD)
        convergent = p.convergent_version_of(version)
        if convergent == 1 and not nonce:
            raise TransitError("invalid convergent nonce supplied")
        try:
            blob = b64.decode(body)
        except b64.Base64Error:
            raise TransitError("invalid ciphertext: could not decode base64") from None
        if p.type.family is Family.RSA:
            entry = self.entry(version)
            if entry.rsa is None:
                raise TransitInternalError("the key version holds no RSA key")
            try:
                return crypto.rsa_oaep_decrypt(entry.rsa, blob)
            except crypto.RsaDecryptFailed as exc:
                raise TransitError(f"failed to RSA decrypt the ciphertext: {exc}") from None
        if p.type.in_token:
            label = self.label(version)
            if len(blob) < crypto.NONCE_SIZE:
                raise TransitError("invalid ciphertext length")
            if len(blob) < crypto.NONCE_SIZE + crypto.TAG_SIZE:
                raise TransitError("cipher: message authentication failed")
            plaintext = await self._token.decrypt(p.type, label, blob, aad)
            if plaintext is None:
                raise TransitError("cipher: message authentication failed")
            return plaintext
        enc_bytes = p.type.key_bytes
        enc_key = self.key_material(context, version, enc_bytes)
        if len(enc_key) != enc_bytes:
            raise TransitInternalError("could not derive enc key, length not correct")
        if len(blob) < crypto.NONCE_SIZE:
            raise TransitError("invalid ciphertext length")
        if p.convergent_encryption and p.convergent_version == 1:
            sealed = blob  # version 1 convergent ciphertexts leave the caller's nonce out
        else:
            nonce, sealed = blob[: crypto.NONCE_SIZE], blob[crypto.NONCE_SIZE :]
        try:
            return crypto.aead_open(self._cipher(), enc_key, nonce, sealed, aad)
        except crypto.AuthenticationFailed as exc:
            raise TransitError(str(exc)) from None

    # -- signatures -----------------------------------------------------------------------------

    async def sign(self, version: int, context: bytes, data: bytes, options: SignOptions) -> Signature:
        """Sign `data`: the digest for ECDSA and RSA (hashed by the caller unless prehashed), the message
        itself for ed25519."""
        p = self.policy
        if not p.type.signing_supported:
            raise TransitError(f"message signing not supported for key type {p.type}")
        version = self._version_for(version, "signing")
        entry = self.entry(version)
        public: bytes | None = None
        if p.type.family is Family.ECDSA:
            r, s = await self._ec_sign(entry, data)
            if options.marshaling == "asn1":
                raw = crypto.ec_signature_der(r, s)
            elif options.marshaling == "jws":
                size = (crypto.curve_bits(p.type.curve) + 7) // 8
                raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
            else:
                raise TransitError("requested marshaling type is invalid")
        elif p.type.family is Family.ED25519:
            if p.derived:
                key = self._derived_ed25519(context, version)
                public = crypto.ed25519_public(key)
            else:
                key = entry.key or b""
            raw = crypto.ed25519_sign(key, data)
        else:
            raw = self._rsa_sign(entry, data, options)
        encoded = b64.encode_raw_url(raw) if options.marshaling == "jws" else b64.encode(raw)
        return Signature(self.prefix(version) + encoded, version, public)

    def _derived_ed25519(self, context: bytes, version: int) -> bytes:
        try:
            return self.derive(context, version, ED25519_SEED_BYTES)
        except TransitError as exc:
            raise TransitError(f"error deriving key: {exc}") from None

    async def _ec_sign(self, entry: KeyEntry, digest: bytes) -> tuple[int, int]:
        p = self.policy
        if p.type.in_token:
            raw = await self._token.sign(p.type, entry.token_label, digest)
            half = len(raw) // 2
            return int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        if entry.ec_d is None:
            raise TransitInternalError("the key version holds no private key")
        try:
            return crypto.ec_sign_digest(p.type.curve, entry.ec_d, digest)
        except ValueError as exc:
            raise TransitError(str(exc)) from None

    def _rsa_parameters(self, options: SignOptions, n: int) -> str:
        if options.hash_algorithm not in crypto.HASH_ALGORITHMS:
            raise TransitInternalError("unsupported hash algorithm")
        scheme = options.signature_algorithm or "pss"
        if scheme not in ("pss", "pkcs1v15"):
            raise TransitError(f"unsupported rsa signature algorithm {scheme}")
        if scheme == "pss" and not crypto.pss_salt_length_valid(n, options.hash_algorithm, options.salt_length):
            raise TransitError(f"requested salt length {options.salt_length} is invalid")
        return scheme

    def _rsa_sign(self, entry: KeyEntry, digest: bytes, options: SignOptions) -> bytes:
        if entry.rsa is None:
            raise TransitInternalError("the key version holds no RSA key")
        scheme = self._rsa_parameters(options, entry.rsa.n)
        if len(digest) != crypto.digest_size(options.hash_algorithm):
            raise TransitError("crypto/rsa: input must be hashed with given hash")
        return crypto.rsa_sign_digest(entry.rsa, digest, options.hash_algorithm, scheme, options.salt_length)

    def verify(self, context: bytes, data: bytes, signature: str, options: SignOptions) -> bool:
        p = self.policy
        if not p.type.signing_supported:
            raise TransitError(f"message verification not supported for key type {p.type}")
        version, body = self._split(signature, "signature")
        if version > p.latest_version:
            raise TransitError("invalid signature: version is too new")
        if p.min_decryption_version > 0 and version < p.min_decryption_version:
            raise TransitError(ERR_TOO_OLD)
        if options.marshaling not in MARSHALING:
            raise TransitError("requested marshaling type is invalid")
        try:
            raw = b64.decode_raw_url(body) if options.marshaling == "jws" else b64.decode(body)
        except b64.Base64Error:
            raise TransitError("invalid base64 signature value") from None
        entry = self.entry(version)
        if p.type.family is Family.ECDSA:
            if options.marshaling == "asn1":
                try:
                    r, s = crypto.ec_signature_from_der(raw)
                except ValueError:
                    raise TransitError("supplied signature is invalid") from None
            else:
                half = len(raw) // 2
                r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            if entry.ec_x is None or entry.ec_y is None:
                raise TransitInternalError("the key version holds no public key")
            return crypto.ec_verify_digest(p.type.curve, entry.ec_x, entry.ec_y, data, r, s)
        if p.type.family is Family.ED25519:
            key = self._derived_ed25519(context, version) if p.derived else (entry.key or b"")
            return crypto.ed25519_verify(crypto.ed25519_public(key), data, raw)
        if entry.rsa is None:
            raise TransitInternalError("the key version holds no RSA key")
        scheme = self._rsa_parameters(options, entry.rsa.n)
        return crypto.rsa_verify_digest(
            entry.rsa.n, entry.rsa.e, data, raw, options.hash_algorithm, scheme, options.salt_length
        )

    # -- HMAC -----------------------------------------------------------------------------------

    def hmac_key(self, version: int) -> bytes:
        p = self.policy
        if version < 0:
            raise TransitError("key version does not exist (cannot be negative)")
        if version > p.latest_version:
            raise TransitError(f"key version does not exist; latest key version is {p.latest_version}")
        entry = self.entry(version)
        key = entry.key if p.type is keytypes.HMAC else entry.hmac_key
        if key is None:
            raise TransitError("no HMAC key exists for that key version")
        return key


async def new_version(policy: Policy, version: int, now: datetime, token: TokenAccess, name: str) -> KeyEntry:
    """Vault's RotateInMemory: fresh material for `version` of the key (in the token for hsm-* types)."""
    key_type = policy.type
    entry = KeyEntry(created=now, creation_unix=int(now.timestamp()))
    fields: dict[str, object] = {}
    if key_type.hmac_supported:
        fields["hmac_key"] = random_bytes(HMAC_KEY_BYTES)
    if key_type.in_token:
        label = token.label(name, version)
        fields["token_label"] = label
        if key_type.family is Family.AEAD:
            await token.generate_aes(key_type, label)
        else:
            curve, x, y = crypto.ec_point_from_der(await token.generate_ec(key_type, label))
            fields.update(ec_x=x, ec_y=y, public_key=crypto.ec_public_pem(curve, x, y))
    elif key_type.family is Family.AEAD:
        fields["key"] = random_bytes(key_type.key_bytes)
    elif key_type.family is Family.HMAC:
        fields["key"] = random_bytes(policy.key_size or keytypes.HMAC_DEFAULT_KEY_BYTES)
    elif key_type.family is Family.ECDSA:
        d, x, y = crypto.ec_generate(key_type.curve)
        fields.update(ec_d=d, ec_x=x, ec_y=y, public_key=crypto.ec_public_pem(key_type.curve, x, y))
    elif key_type.family is Family.ED25519:
        private = crypto.ed25519_generate()
        fields.update(key=private, public_key=b64.encode(crypto.ed25519_public(private)))
    else:
        # Seconds of CPU for 4096 bits: off the event loop.
        fields["rsa"] = await asyncio.to_thread(crypto.rsa_generate, key_type.rsa_bits)
    if policy.convergent_encryption and (policy.convergent_version == -1 or policy.convergent_version > 1):
        fields["convergent_version"] = CURRENT_CONVERGENT_VERSION
    return replace(entry, **fields)  # type: ignore[arg-type]
