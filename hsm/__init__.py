"""PKCS#11 tokens (SoftHSM, HSMs): the only package that imports pkcs11.

Usage: `async with open_hsm(Pkcs11Settings(lib=..., pin=..., token_label="sealer")) as hsm:`
then `blob = await hsm.encrypt(root_key, aad)` and `await hsm.decrypt(blob, aad)`.
"""

from hsm.errors import (
    HsmDecryptFailed,
    HsmError,
    HsmTimeout,
    KeyNotFound,
    MechanismUnsupported,
    ModuleLoadError,
    PinIncorrect,
    PinLocked,
    TokenGone,
    TokenNotFound,
)
from hsm.hsm import Hsm, open_hsm
from hsm.keys_process import TokenKeysProcess
from hsm.settings import Pkcs11Settings
from hsm.token_keys import HsmTokenKeys

__all__ = [
    "Hsm",
    "HsmDecryptFailed",
    "HsmError",
    "HsmTimeout",
    "HsmTokenKeys",
    "KeyNotFound",
    "MechanismUnsupported",
    "ModuleLoadError",
    "PinIncorrect",
    "PinLocked",
    "Pkcs11Settings",
    "TokenGone",
    "TokenKeysProcess",
    "TokenNotFound",
    "open_hsm",
]
