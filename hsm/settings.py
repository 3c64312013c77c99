"""What the hsm package needs to know to reach a token and its two keys."""

from __future__ import annotations

from dataclasses import dataclass, field

# How the token protects what it wraps: its AES-256 key with AES-GCM, or (tokens without AES-GCM, such as
# a TPM through tpm2-pkcs11) its RSA key pair with RSA-OAEP (hsm/rsa_oaep.py). The HMAC key is used by both.
MECHANISMS = ("aes-gcm", "rsa-oaep")


@dataclass(frozen=True)
class Pkcs11Settings:
    lib: str  # path of the PKCS#11 module (.so)
    pin: str = field(repr=False)  # already resolved by the caller (env var / file / config)
    token_label: str | None = None  # at least one of token_label / token_serial; both must match if set
    token_serial: str | None = None
    key_label: str = "sealer-root-wrap"  # AES-256, non-extractable, sensitive, token object
    hmac_key_label: str = "sealer-hmac"  # GENERIC_SECRET >= 32 bytes for CKM_SHA256_HMAC, same properties
    generate_key: bool = False  # create missing keys; an existing key is never replaced
    call_timeout: float = 10.0  # seconds for one operation, including waiting for the worker thread
    mechanism: str = "aes-gcm"  # one of MECHANISMS; with rsa-oaep, key_label names an RSA key pair

    def __post_init__(self) -> None:
        if self.token_label is None and self.token_serial is None:
            raise ValueError("Pkcs11Settings needs token_label or token_serial")
        if self.call_timeout <= 0:
            raise ValueError("Pkcs11Settings.call_timeout must be positive")
        if self.key_label == self.hmac_key_label:
            raise ValueError("Pkcs11Settings.key_label and hmac_key_label must differ")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"Pkcs11Settings.mechanism must be one of {', '.join(MECHANISMS)}")

    @property
    def token_name(self) -> str:
        """The token as messages name it: "'label'", "with serial 's'" or "'label' with serial 's'"."""
        parts = []
        if self.token_label is not None:
            parts.append(f"'{self.token_label}'")
        if self.token_serial is not None:
            parts.append(f"with serial '{self.token_serial}'")
        return " ".join(parts)
