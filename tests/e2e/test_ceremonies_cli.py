"""`sealer operator rekey` and `sealer operator generate-root` driving a running daemon: each key holder
enters a share on stdin (as through a prompt without echo), sees the progress and the next step; the
generated root token is decoded with -decode and used."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import hvac

from tests.e2e.conftest import pkcs11_config, shamir_config
from tests.e2e.daemon import Daemon


def sealer(daemon: Daemon, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VAULT_TOKEN", "SEALER_TOKEN", "VAULT_ADDR")}
    env["SEALER_ADDR"] = daemon.address
    env["HOME"] = str(daemon.workdir)
    return subprocess.run([sys.executable, "-m", "sealer", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def succeeds(daemon: Daemon, *args: str, stdin: str | None = None) -> str:
    result = sealer(daemon, *args, stdin=stdin)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def field(output: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}\s{{2,}}(\S+)\s*$", output, re.MULTILINE)
    assert match, f"no {name!r} in:\n{output}"
    return match.group(1)


def test_rekey_with_verification_then_generate_root_from_the_command_line(daemons, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, shamir_config(tmp_path)).start()
    init = json.loads(succeeds(daemon, "operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"))
    old = init["unseal_keys_b64"]
    for share in old[:2]:
        succeeds(daemon, "operator", "unseal", stdin=share + "\n")

    idle = sealer(daemon, "operator", "rekey", stdin=old[0] + "\n")
    assert idle.returncode == 1 and "No rekey is in progress" in idle.stderr

    started = succeeds(daemon, "operator", "rekey", "-init", "-key-shares=4", "-key-threshold=3", "-verify")
    nonce = field(started, "Nonce")
    assert field(started, "Rekey Progress") == "0/2" and field(started, "New Shares") == "4"
    assert field(started, "Verification Required") == "true"
    assert "Next: 2 holders of the current keys each run `sealer operator rekey`" in " ".join(started.split())
    again = sealer(daemon, "operator", "rekey", "-init")
    assert again.returncode == 2 and "rekey already in progress" in again.stderr

    first = sealer(daemon, "operator", "rekey", stdin=old[2] + "\n")
    assert first.returncode == 0, first.stderr
    assert f"Rekey operation nonce: {nonce}" in first.stderr
    assert old[2] not in first.stdout + first.stderr
    assert field(first.stdout, "Rekey Progress") == "1/2" and "1 of 2 shares entered; 1 more needed" in first.stdout
    duplicate = sealer(daemon, "operator", "rekey", stdin=old[2] + "\n")
    assert duplicate.returncode == 2 and "already been provided" in duplicate.stderr
    wrong_nonce = sealer(daemon, "operator", "rekey", "-nonce=not-it", old[0])
    assert wrong_nonce.returncode == 2 and "incorrect nonce" in wrong_nonce.stderr
    assert field(succeeds(daemon, "operator", "rekey", "-status"), "Rekey Progress") == "1/2"

    # The last holder passes the key as "-" (all of stdin) with the nonce.
    issued = sealer(daemon, "operator", "rekey", f"-nonce={nonce}", "-", stdin=old[0])
    assert issued.returncode == 0, issued.stderr
    new = re.findall(r"^Key \d: (\S+)$", issued.stdout, re.MULTILINE)
    assert len(new) == 4
    assert "These will not be active until after verification is complete" in " ".join(issued.stdout.split())
    assert "_not_ valid until verification is performed" in " ".join(issued.stderr.split())
    assert field(issued.stdout, "Verification Progress") == "0/3"
    verification_nonce = field(issued.stdout, "Nonce")

    for count, share in enumerate(new[:2], 1):
        step = succeeds(daemon, "operator", "rekey", "-verify", stdin=share + "\n")
        assert field(step, "Verification Progress") == f"{count}/3"
    assert field(succeeds(daemon, "operator", "rekey", "-verify", "-status"), "Nonce") == verification_nonce
    verified = succeeds(daemon, "operator", "rekey", "-verify", f"-nonce={verification_nonce}", new[3])
    assert "Rekey verification successful" in verified

    # generate-root with an OTP of our own, the new shares, then -decode.
    otp = succeeds(daemon, "operator", "generate-root", "-generate-otp").strip()
    assert len(otp) == 28
    begun = succeeds(daemon, "operator", "generate-root", "-init", f"-otp={otp}")
    assert field(begun, "Progress") == "0/3" and field(begun, "OTP Length") == "28"
    outputs = [succeeds(daemon, "operator", "generate-root", stdin=share + "\n") for share in new[:3]]
    assert "1 of 3 shares entered" in outputs[0] and field(outputs[1], "Progress") == "2/3"
    assert field(outputs[2], "Complete") == "true" and "-decode=ENCODED -otp=OTP" in " ".join(outputs[2].split())
    token = succeeds(daemon, "operator", "generate-root", f"-decode={field(outputs[2], 'Encoded Token')}",
                     f"-otp={otp}").strip()
    assert hvac.Client(url=daemon.address, token=token).auth.token.lookup_self()["data"]["policies"] == ["root"]


def test_generate_root_with_a_server_made_otp_and_cancel(daemons, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, shamir_config(tmp_path)).start()
    init = json.loads(succeeds(daemon, "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"))
    (key,) = init["unseal_keys_b64"]
    succeeds(daemon, "operator", "unseal", key)

    started = sealer(daemon, "operator", "generate-root", "-init")
    assert started.returncode == 0, started.stderr
    otp = field(started.stdout, "OTP")
    assert "A One-Time-Password has been generated for you" in " ".join(started.stderr.split())
    assert field(succeeds(daemon, "operator", "generate-root", "-status"), "Started") == "true"
    assert "Success! Root token generation canceled" in succeeds(daemon, "operator", "generate-root", "-cancel")
    assert field(succeeds(daemon, "operator", "generate-root", "-status"), "Started") == "false"

    started = sealer(daemon, "operator", "generate-root", "-init", "-format=json")
    otp = json.loads(started.stdout)["otp"]
    done = json.loads(succeeds(daemon, "operator", "generate-root", "-format=json", stdin=key + "\n"))
    assert done["complete"] is True
    decoded = json.loads(succeeds(daemon, "operator", "generate-root", "-format=json",
                                  f"-decode={done['encoded_token']}", f"-otp={otp}"))
    assert hvac.Client(url=daemon.address, token=decoded["token"]).is_authenticated()
    bad = sealer(daemon, "operator", "generate-root", f"-decode={done['encoded_token']}", "-otp=short")
    assert bad.returncode == 1 and "Error decoding the token" in bad.stderr


def test_recovery_rekey_from_the_command_line(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    old = json.loads((tmp_path / "init.json").read_text())["recovery_keys_base64"]
    wrong = sealer(daemon, "operator", "rekey", "-init")
    assert wrong.returncode == 2 and "-target=recovery" in wrong.stderr
    started = succeeds(daemon, "operator", "rekey", "-target=recovery", "-init", "-key-shares=2", "-key-threshold=2")
    assert field(started, "Rekey Progress") == "0/2"
    succeeds(daemon, "operator", "rekey", "-target=recovery", stdin=old[0] + "\n")
    issued = succeeds(daemon, "operator", "rekey", "-target=recovery", stdin=old[1] + "\n")
    new = re.findall(r"^Key \d: (\S+)$", issued, re.MULTILINE)
    assert len(new) == 2 and "Sealer rekeyed with 2 key shares and a key threshold of 2" in " ".join(issued.split())
    assert field(succeeds(daemon, "operator", "rekey", "-target=recovery", "-status"), "Started") == "false"

    begun = succeeds(daemon, "operator", "generate-root", "-init")
    otp = field(begun, "OTP")
    for share in new:
        done = succeeds(daemon, "operator", "generate-root", stdin=share + "\n")
    token = succeeds(daemon, "operator", "generate-root", f"-decode={field(done, 'Encoded Token')}", f"-otp={otp}")
    assert hvac.Client(url=daemon.address, token=token.strip()).is_authenticated()
