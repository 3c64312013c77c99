"""A secret sealed to the TPM, as stored: the TPM's own public and private parts of the object (the
private part is encrypted by the TPM under its primary key and opens only inside that TPM) and the PCRs
it is bound to, with their values at sealing time (public measurements, kept to name what changed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hsm.tpm2.pcrs import PcrSelection


@dataclass(frozen=True)
class SealedObject:
    public: bytes
    private: bytes = field(repr=False)
    pcrs: PcrSelection | None = None
    # "sha256:7" -> the PCR's value when the object was sealed.
    pcr_values: dict[str, bytes] = field(default_factory=dict)
