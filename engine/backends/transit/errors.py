"""Transit's two kinds of failure, as Vault's errutil tells them apart: a user error (400, the request
must change) and an internal one (500). Batch endpoints record either per item."""

from __future__ import annotations

from engine.errors import BadRequest, EngineError

# Vault's keysutil.ErrTooOld.
ERR_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
# What hsm-* keys answer to export and backup.
ERR_IN_TOKEN = "key material is kept in the PKCS#11 token and cannot be exported"


class TransitError(BadRequest):
    """Vault's errutil.UserError."""


class TransitInternalError(EngineError):
    """Vault's errutil.InternalError."""

    status = 500
