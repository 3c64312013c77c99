"""A software TPM (swtpm) for tests: its state in a temp dir, on free loopback ports, with the
dictionary-attack limits raised first (else three failed authorisations lock it for 1000 s, for the
whole run; see ../shared/notes/pkcs11-facts.md). tpm2-tools drive it as an administrator would."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT = 10.0
DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}


def _free_port_pair() -> int:
    """A port P with P and P+1 free on loopback: the swtpm TCTI reaches the control channel at P+1."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


@dataclass
class SwTpm:
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self, *, same_port: bool = False) -> SwTpm:
        """Start swtpm (state kept in `directory` across restarts) and wait until it answers; `same_port`
        restarts it where its clients already point."""
        (self.directory / "state").mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # a port taken between choosing and binding: choose again
            if not (same_port and self.port):
                self.port = _free_port_pair()
            with (self.directory / "swtpm.log").open("ab") as log:
                self.process = subprocess.Popen([
                    "swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.directory / 'state'}",
                    "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                    "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
                    "--flags", "not-need-init,startup-clear",
                ], stdout=log, stderr=log)
            if self._wait_ready():
                self.tool("tpm2_dictionarylockout", "--setup-parameters", "--max-tries=1000",
                          "--recovery-time=1", "--lockout-recovery-time=1")
                return self
        raise RuntimeError(f"swtpm did not start: {(self.directory / 'swtpm.log').read_text(errors='replace')}")

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port + 1), timeout=1):
                    return True
            except OSError:
                time.sleep(0.02)  # poll
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def tool(self, *args: str) -> str:
        """Run a tpm2-tools command against this TPM; its stdout."""
        env = {**os.environ, "TPM2TOOLS_TCTI": self.tcti, "TSS2_LOG": "all+none"}
        done = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def extend_pcr(self, index: int, bank: str = "sha256") -> None:
        """What a changed boot component does: extend a PCR with a new measurement."""
        self.tool("tpm2_pcrextend", f"{index}:{bank}=" + os.urandom(DIGEST_SIZES[bank]).hex())
