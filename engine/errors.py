"""The engine's error tree. Each error carries the HTTP status Vault uses for it; the HTTP edge maps
them in one place, so nothing below it knows about HTTP.

    EngineError (500)
    ├── BadRequest (400)            invalid input; nothing was changed
    ├── PermissionDenied (403)      missing, unknown or insufficient token (Vault never answers 401)
    ├── NotFound (404)              unsupported path or missing entry
    ├── UnsupportedOperation (405)  the path exists but not for this operation
    ├── Sealed (503)                the barrier is sealed
    ├── StorageError (500)          the physical storage failed
    └── BarrierDecryptError (500)   a stored value does not decrypt: tampered, swapped or wrong key
"""

from __future__ import annotations


class EngineError(Exception):
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(EngineError):
    status = 400


class PermissionDenied(EngineError):
    status = 403

    def __init__(self, message: str = "permission denied") -> None:
        super().__init__(message)


class NotFound(EngineError):
    status = 404


class UnsupportedOperation(EngineError):
    status = 405


class Sealed(EngineError):
    status = 503

    def __init__(self, message: str = "Vault is sealed") -> None:
        super().__init__(message)


class StorageError(EngineError):
    status = 500


class BarrierDecryptError(EngineError):
    """Raised whatever the cause (bad tag, wrong term, truncated value): callers cannot tell them apart."""

    status = 500
