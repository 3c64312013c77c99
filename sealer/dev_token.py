"""A throwaway SoftHSM token for `sealer server --dev`: its own config and token directory in a temp dir,
never the system's token directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODULE_PATH = "/usr/lib/softhsm/libsofthsm2.so"
# A dev token lives and dies with one process on one machine; its PIN protects nothing worth a secret.
DEV_PIN = "1234"
DEV_SO_PIN = "12345678"
DEV_LABEL = "sealer-dev"


@contextmanager
def create() -> Iterator[str]:
    """Make the token and point this process at it (SoftHSM reads SOFTHSM2_CONF once, at C_Initialize)."""
    if shutil.which("softhsm2-util") is None or not Path(MODULE_PATH).exists():
        raise SystemExit("--dev needs SoftHSM2: apt-get install softhsm2 (or run `make run`)")
    with tempfile.TemporaryDirectory(prefix="sealer-dev-") as directory:
        tokens = Path(directory, "tokens")
        tokens.mkdir()
        conf = Path(directory, "softhsm2.conf")
        conf.write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", DEV_LABEL,
             "--pin", DEV_PIN, "--so-pin", DEV_SO_PIN],
            check=True, capture_output=True,
        )
        yield directory
