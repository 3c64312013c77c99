"""config/systemd/sealer.service: systemd accepts it, it is hardened as documented, and the daemon runs
under what `MemoryDenyWriteExecute=yes` forbids (the kernel's PR_SET_MDWE, as a launcher here)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.e2e.daemon import free_port, request
from tests.tpm.swtpm import SwTpm

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "config" / "systemd" / "sealer.service"
EXAMPLE_CONFIG = REPO / "config" / "systemd" / "sealer.yaml"
SEALER = Path(sys.executable).with_name("sealer")
# Run a program with writable+executable memory refused, as systemd's MemoryDenyWriteExecute=yes does.
MDWE_LAUNCHER = """
import ctypes, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_MDWE): " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"""


def installed_unit(tmp_path: Path) -> Path:
    """The unit as installed here: ExecStart pointed at this virtualenv's `sealer`."""
    text = UNIT.read_text().replace("/usr/local/bin/sealer", str(SEALER))
    path = tmp_path / "sealer.service"
    path.write_text(text)
    return path


def service_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_analyze_verify_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(installed_unit(tmp_path))],
                          capture_output=True, text=True, timeout=60, check=False)
    # verify only warns (exit 0) about unknown keys and bad values: a clean run prints nothing at all.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_a_typo_in_the_unit_would_be_caught(tmp_path: Path) -> None:
    broken = installed_unit(tmp_path)
    broken.write_text(broken.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilegez=yes"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert "Unknown key 'NoNewPrivilegez'" in done.stderr


def test_the_unit_is_hardened_and_restarts_on_failure(tmp_path: Path) -> None:
    settings = service_settings()
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("MemoryDenyWriteExecute", "yes"), ("Restart", "on-failure"), ("User", "sealer"),
                       ("LimitCORE", "0")]:
        assert settings.get(key) == [value], key
    assert "tpm2-abrmd.service" in settings["After"][0]
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                           str(installed_unit(tmp_path))], capture_output=True, text=True, timeout=60, check=False)
    exposure = re.search(r"Overall exposure level for sealer\.service: ([0-9.]+)", done.stdout)
    assert exposure is not None, done.stdout + done.stderr
    assert float(exposure.group(1)) <= 2.0


def test_the_example_config_reads_the_pin_from_the_units_credential() -> None:
    credential = service_settings()["LoadCredential"][0].split(":")[0]
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    assert config["seal"]["pkcs11"]["pin_file"] == f"/run/credentials/sealer.service/{credential}"
    assert config["storage"]["sqlite"]["path"].startswith("/var/lib/sealer/")  # its StateDirectory


def test_the_daemon_works_with_write_execute_memory_refused(tmp_path: Path) -> None:
    port = free_port()
    launcher = tmp_path / "mdwe.py"
    launcher.write_text(MDWE_LAUNCHER)
    # First, that the launcher does refuse what MemoryDenyWriteExecute refuses.
    probe = subprocess.run([sys.executable, str(launcher), sys.executable, "-c",
                            "import mmap; mmap.mmap(-1, 4096, prot=7)"], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr
    # The dev server: SoftHSM through python-pkcs11 and ctypes, cryptography, aiohttp, all under MDWE.
    with (tmp_path / "daemon.log").open("wb") as log:
        daemon = subprocess.Popen([sys.executable, str(launcher), sys.executable, "-m", "sealer", "server", "--dev",
                                   f"--dev-listen-address=127.0.0.1:{port}", "--dev-root-token-id=mdwe-root"],
                                  cwd=tmp_path, stdout=log, stderr=log)
    try:
        address = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and daemon.poll() is None:
            try:
                if request("GET", f"{address}/sys/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)  # poll
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
        assert request("POST", f"{address}/secret/hello", {"world": "yes"}, token="mdwe-root")[0] == 204
        assert request("GET", f"{address}/secret/hello", token="mdwe-root")[1]["data"] == {"world": "yes"}
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_the_tpm_library_works_with_write_execute_memory_refused(tmp_path: Path) -> None:
    tpm = SwTpm(tmp_path / "tpm").start()
    launcher = tmp_path / "mdwe.py"
    launcher.write_text(MDWE_LAUNCHER)
    script = (
        "import asyncio\n"
        "from hsm.tpm2 import Tpm2Settings, parse_pcrs\n"
        "from hsm.tpm2.device import Tpm\n"
        "async def main():\n"
        f"    tpm = await Tpm.open(Tpm2Settings({tpm.tcti!r}))\n"
        "    sealed = await tpm.seal(b'k' * 32, parse_pcrs('sha256:0'))\n"
        "    print((await tpm.unseal(sealed)).decode())\n"
        "    await tpm.close()\n"
        "asyncio.run(main())\n"
    )
    try:
        done = subprocess.run([sys.executable, str(launcher), sys.executable, "-c", script], cwd=REPO,
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        tpm.stop()
    assert (done.returncode, done.stdout.strip()) == (0, "k" * 32), done.stderr
