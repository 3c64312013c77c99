"""TPM 2.0 (a machine's own TPM, or swtpm in tests): the only code that imports tpm2_pytss.

A secret is sealed to the TPM as a KEYEDHASH object under a primary key that is re-derived from a fixed
template at every use, optionally bound to a PCR policy, so it unseals only on this TPM and, with PCRs,
only in the boot state it was sealed in. `hsm.tpm2.device.Tpm` does the work; importing this package
does not need tpm2_pytss (configuration parsing uses the PCR syntax alone).
"""

from hsm.tpm2.errors import PcrMismatch, TpmError, TpmLibraryMissing, TpmObjectInvalid, TpmUnreachable
from hsm.tpm2.pcrs import PcrSelection, parse_pcrs
from hsm.tpm2.sealed import SealedObject
from hsm.tpm2.settings import Tpm2Settings

__all__ = [
    "PcrMismatch",
    "PcrSelection",
    "SealedObject",
    "Tpm2Settings",
    "TpmError",
    "TpmLibraryMissing",
    "TpmObjectInvalid",
    "TpmUnreachable",
    "parse_pcrs",
]
