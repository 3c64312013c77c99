"""What the tpm2 code needs to know to reach a TPM."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tpm2Settings:
    # A TCTI string as tpm2-tools takes it: "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321", "tabrmd:".
    tcti: str = "device:/dev/tpmrm0"
    call_timeout: float = 10.0  # seconds for one operation, including waiting for the worker thread

    def __post_init__(self) -> None:
        if not self.tcti:
            raise ValueError("Tpm2Settings.tcti must not be empty")
        if self.call_timeout <= 0:
            raise ValueError("Tpm2Settings.call_timeout must be positive")
