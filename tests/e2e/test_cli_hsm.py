"""`sealer hsm ...` as a process against a real SoftHSM token, offline (no daemon): list slots, create keys
by label, list them, check them, from flags or from a server configuration file. The PIN comes from the
environment, a file or stdin, and never shows in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import MODULE


def hsm(softhsm_conf: Path, *argv: str, pin: str | None = None, stdin: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SEALER_HSM_PIN"}
    environ["SOFTHSM2_CONF"] = str(softhsm_conf)
    if pin is not None:
        environ["SEALER_HSM_PIN"] = pin
    return subprocess.run([sys.executable, "-m", "sealer", "hsm", *argv], env=environ, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_slots_keys_create_and_check_from_flags(softhsm_token: Any) -> None:
    token = softhsm_token
    conf, pin = token.conf, token.pin
    by_label = [f"-lib={MODULE}", f"-token-label={token.label}"]

    slots = json.loads(hsm(conf, "slots", f"-lib={MODULE}", "-format=json").stdout)
    ours = [slot for slot in slots if slot["token"] and slot["token"]["label"] == token.label]
    assert len(ours) == 1 and ours[0]["token"]["initialized"] is True
    assert token.label in hsm(conf, "slots", f"-lib={MODULE}").stdout

    empty = hsm(conf, "keys", *by_label, pin=pin)
    assert (empty.returncode, empty.stdout) == (0, "No keys on the token.\n")

    made = hsm(conf, "create-key", *by_label, "wrap-a", pin=pin)
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"Success! Created AES key 'wrap-a' on token '{token.label}'\n"
    assert hsm(conf, "create-key", *by_label, "-type=hmac", "mac-a", stdin=pin + "\n").returncode == 0
    again = hsm(conf, "create-key", *by_label, "wrap-a", pin=pin)
    assert again.returncode == 1 and "already has an object labelled 'wrap-a'" in again.stderr

    listed = json.loads(hsm(conf, "keys", *by_label, "-format=json", pin=pin).stdout)
    keys = {key["label"]: key for key in listed[0]["keys"]}
    assert (keys["wrap-a"]["key_type"], keys["wrap-a"]["length"]) == ("AES", 32)
    assert (keys["mac-a"]["key_type"], keys["mac-a"]["length"]) == ("GENERIC_SECRET", 32)
    assert all(key["sensitive"] is True and key["extractable"] is False for key in keys.values())

    good = hsm(conf, "check", *by_label, "-key-label=wrap-a", "-hmac-key-label=mac-a", pin=pin)
    assert good.returncode == 0, good.stderr
    assert "ok" in good.stdout.split()
    missing = hsm(conf, "check", *by_label, "-key-label=nope", "-hmac-key-label=mac-a", pin=pin)
    assert missing.returncode == 1 and "no key labelled 'nope'" in missing.stdout

    wrong_pin = hsm(conf, "keys", *by_label, pin="not-the-pin")
    assert (wrong_pin.returncode, wrong_pin.stderr) == (1, f"Error: wrong PIN for token '{token.label}'\n")
    for result in (empty, made, good, missing):
        assert pin not in result.stdout + result.stderr


def test_check_every_token_of_a_config_file(softhsm_token: Any, tmp_path: Path) -> None:
    token = softhsm_token
    pin_file = tmp_path / "pin"
    pin_file.write_text(token.pin)
    config = tmp_path / "sealer.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"memory": {}},
        "seal": {"pkcs11": {"lib": MODULE, "token_label": token.label, "pin_file": str(pin_file),
                            "key_label": "cfg-wrap", "hmac_key_label": "cfg-mac"}},
    }))
    before = hsm(token.conf, "check", f"-config={config}")
    assert before.returncode == 1 and "FAILED" in before.stdout
    for label, kind in (("cfg-wrap", "aes"), ("cfg-mac", "hmac")):
        assert hsm(token.conf, "create-key", f"-config={config}", f"-type={kind}", label).returncode == 0
    after = hsm(token.conf, "check", f"-config={config}", "-format=json")
    assert after.returncode == 0, after.stderr
    [result] = json.loads(after.stdout)
    assert (result["ok"], result["key_label"], result["hmac_key_label"]) == (True, "cfg-wrap", "cfg-mac")
    usage = hsm(token.conf, "keys", f"-config={config}", f"-lib={MODULE}")
    assert usage.returncode == 2
