"""The TPM's error tree; tpm2_pytss's exceptions are translated in hsm/tpm2/device.py.

    TpmError               anything the TPM did wrong
    ├── TpmUnreachable     no TPM at the TCTI (device missing, swtpm down, resource manager gone)
    ├── TpmLibraryMissing  tpm2-pytss is not installed
    ├── TpmObjectInvalid   the TPM cannot load the sealed object (another TPM, or its owner hierarchy cleared)
    └── PcrMismatch        the PCRs differ from those the object was sealed to (a new kernel, boot chain, ...)
"""

from __future__ import annotations


class TpmError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TpmUnreachable(TpmError):
    pass


class TpmLibraryMissing(TpmError):
    pass


class TpmObjectInvalid(TpmError):
    pass


class PcrMismatch(TpmError):
    """`changed` names each PCR (as "sha256:7") whose value differs from the one sealed to."""

    def __init__(self, message: str, sealed_to: str, changed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.sealed_to = sealed_to
        self.changed = changed
