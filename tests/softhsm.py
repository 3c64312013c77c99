"""Private SoftHSM2 tokens for tests, made by ci/softhsm/make-token.sh (the same script `make run` uses)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hsm import Pkcs11Settings

REPO = Path(__file__).resolve().parent.parent
MAKE_TOKEN = REPO / "ci" / "softhsm" / "make-token.sh"
_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def softhsm_module() -> str:
    """The SoftHSM2 PKCS#11 module: $SOFTHSM2_MODULE, else the first usual install path that exists."""
    override = os.environ.get("SOFTHSM2_MODULE")
    if override:
        return override
    for candidate in _MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"libsofthsm2.so not found (tried {', '.join(_MODULE_CANDIDATES)})")


@dataclass(frozen=True)
class SoftHsmToken:
    conf: Path  # the SOFTHSM2_CONF to run PKCS#11 users with
    lib: str
    label: str
    pin: str = field(repr=False)
    so_pin: str = field(repr=False)
    directory: Path

    def pkcs11_settings(self, **overrides: Any) -> Pkcs11Settings:
        """Settings for this token; generate_key defaults to True (a fresh token has no keys)."""
        values: dict[str, Any] = {"lib": self.lib, "pin": self.pin, "token_label": self.label}
        values["generate_key"] = True
        values.update(overrides)
        return Pkcs11Settings(**values)

    def env(self) -> dict[str, str]:
        """os.environ plus SOFTHSM2_CONF, for subprocesses (e.g. the daemon in e2e tests)."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


def make_token(directory: Path, label: str, pin: str, so_pin: str) -> SoftHsmToken:
    """A token labelled `label` in the SoftHSM store at `directory` (created if needed; idempotent)."""
    result = subprocess.run(
        ["sh", str(MAKE_TOKEN), str(directory), label, pin, so_pin],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        # stderr is softhsm2-util's; it never echoes the PINs.
        raise RuntimeError(f"make-token.sh failed ({result.returncode}): {result.stderr.strip()}")
    return SoftHsmToken(
        conf=Path(result.stdout.strip()),
        lib=softhsm_module(),
        label=label,
        pin=pin,
        so_pin=so_pin,
        directory=Path(directory),
    )


def token_dir(token: SoftHsmToken, serial: str) -> Path:
    """The directory SoftHSM keeps the token with this serial in (its name ends with the serial)."""
    for candidate in (token.directory / "tokens").iterdir():
        if candidate.name.replace("-", "").endswith(serial):
            return candidate
    raise FileNotFoundError(f"no token directory for serial {serial} in {token.directory}")
