"""LockingLib really initialises the module itself (with CKF_OS_LOCKING_OK), not through python-pkcs11.

Run in a fresh interpreter: a module can be C_Initialize'd once per process, and this test must not
disturb the Module other tests share."""

from __future__ import annotations

import subprocess
import sys

from softhsm import REPO, SoftHsmToken

SCRIPT = """
import sys
from pkcs11 import exceptions
from hsm.cryptoki import LockingLib

lib = LockingLib(sys.argv[1])
# Our initialize() ran instead of python-pkcs11's: its own flag stayed False.
print("ours", lib.is_initialized, "theirs", lib.initialized)
try:
    LockingLib(sys.argv[1])
except exceptions.PKCS11Error as exc:
    print("second:", exc)
lib.finalize()
print("after finalize", lib.is_initialized)
lib.initialize()
print("again", lib.is_initialized)
lib.finalize()
"""


def test_locking_lib_owns_initialisation(softhsm: SoftHsmToken) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, softhsm.lib],
        cwd=REPO,
        env=softhsm.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "ours True theirs False"
    assert lines[1].startswith("second: C_Initialize: the module was already initialised")
    assert lines[2:] == ["after finalize False", "again True"]
    assert result.stderr == ""
