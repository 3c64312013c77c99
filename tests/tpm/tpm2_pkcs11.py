"""A TPM behind tpm2-pkcs11 for tests: swtpm, a private D-Bus session bus, tpm2-abrmd on it (tpm2-pkcs11
needs a resource manager), and a token made with tpm2_ptool holding an RSA key pair and an HMAC key."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.tpm.swtpm import SwTpm

MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"
TCTI = "tabrmd:bus_type=session"
READY_TIMEOUT = 15.0


@dataclass
class Tpm2Pkcs11Token:
    directory: Path
    label: str = "sealer-tpm"
    pin: str = field(default="tpm-user-pin", repr=False)
    so_pin: str = field(default="tpm-so-pin", repr=False)
    rsa_key_label: str = "root-rsa"
    hmac_key_label: str = "root-hmac"
    tpm: SwTpm | None = None
    bus_address: str = ""
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def lib(self) -> str:
        return MODULE

    @property
    def store(self) -> Path:
        return self.directory / "store"

    def env(self) -> dict[str, str]:
        """What a process loading the module needs in its environment."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.bus_address, "TPM2_PKCS11_TCTI": TCTI,
                "TPM2TOOLS_TCTI": TCTI, "TPM2_PKCS11_STORE": str(self.store), "TPM2_PKCS11_LOG_LEVEL": "0",
                "TSS2_LOG": "all+none"}

    def start(self) -> Tpm2Pkcs11Token:
        self.tpm = SwTpm(self.directory / "swtpm").start()
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._processes.append(bus)
        assert bus.stdout is not None
        self.bus_address = bus.stdout.readline().decode().strip()  # printed once the bus listens
        with (self.directory / "abrmd.log").open("ab") as log:
            self._processes.append(subprocess.Popen(
                ["/usr/sbin/tpm2-abrmd", "--session", f"--tcti={self.tpm.tcti}", "--allow-root"],
                env={**os.environ, **self.env()}, stdout=log, stderr=log))
        self._wait_ready()
        self.store.mkdir(parents=True, exist_ok=True)
        self.ptool("init")
        self.ptool("addtoken", "--pid=1", f"--label={self.label}", f"--sopin={self.so_pin}", f"--userpin={self.pin}")
        self.ptool("addkey", "--algorithm=rsa2048", f"--label={self.label}", f"--key-label={self.rsa_key_label}",
                   f"--userpin={self.pin}")
        self.ptool("addkey", "--algorithm=hmac:sha256", f"--label={self.label}", f"--key-label={self.hmac_key_label}",
                   f"--userpin={self.pin}")
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            done = subprocess.run(["tpm2_getcap", "properties-fixed"], env={**os.environ, **self.env()},
                                  capture_output=True, timeout=30, check=False)
            if done.returncode == 0:
                return
            time.sleep(0.05)  # poll: tpm2-abrmd registers its bus name shortly after starting
        raise RuntimeError(f"tpm2-abrmd did not come up: {(self.directory / 'abrmd.log').read_text(errors='replace')}")

    def ptool(self, command: str, *args: str) -> str:
        done = subprocess.run(["tpm2_ptool", command, *args, f"--path={self.store}"], env={**os.environ, **self.env()},
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tpm2_ptool {command} failed: {done.stderr}")
        return done.stdout

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()
        if self.tpm is not None:
            self.tpm.stop()
