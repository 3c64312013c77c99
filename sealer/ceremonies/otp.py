"""The one-time password that hides a generated root token on its way out (Vault's roottoken helper).

The OTP is as long as the token; the daemon answers base64(token XOR otp) without padding (Go's
RawStdEncoding), and only the holder of the OTP turns it back into the token. Standard library only:
the CLI decodes with it.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string

_BASE62 = string.ascii_uppercase + string.ascii_lowercase + string.digits


class OtpError(ValueError):
    pass


def generate_otp(length: int) -> str:
    """A random base62 OTP, as Vault's base62.Random draws it."""
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def _xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise OtpError(f"length of byte slices is not equivalent: {len(a)} != {len(b)}")
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def encode_token(token: str, otp: str) -> str:
    if not token:
        raise OtpError("no token provided")
    if not otp:
        raise OtpError("no otp provided")
    return base64.b64encode(_xor(otp.encode(), token.encode())).decode().rstrip("=")


def decode_token(encoded: str, otp: str) -> str:
    """The token from `encoded_token` and the OTP the attempt was started with."""
    text = encoded.strip()
    # Raw (unpadded) base64, as Vault emits it; tolerate padding a person may have added.
    text = text.rstrip("=")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OtpError(f"error decoding base64'd token: {exc}") from None
    try:
        return _xor(raw, otp.strip().encode()).decode()
    except UnicodeDecodeError:
        raise OtpError("error xoring token: the result is not a token; is this the right OTP?") from None
