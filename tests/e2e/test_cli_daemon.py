"""The `sealer` command line against a real daemon: init, unseal, status exit codes, seal, read/write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import shamir_config


def sealer(daemon, *args: str, token: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VAULT_TOKEN", "SEALER_TOKEN", "VAULT_ADDR")}
    env["SEALER_ADDR"] = daemon.address
    env["HOME"] = str(daemon.workdir)
    if token:
        env["SEALER_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "sealer", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_operator_ceremony_and_kv_from_the_command_line(daemons, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, shamir_config(tmp_path)).start()
    assert sealer(daemon, "status").returncode == 2

    init = sealer(daemon, "operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json")
    assert init.returncode == 0, init.stderr
    result = json.loads(init.stdout)
    keys, token = result["unseal_keys_b64"], result["root_token"]

    first = sealer(daemon, "operator", "unseal", keys[0])
    assert first.returncode == 0, first.stderr  # a share taken is a success, as in Vault
    assert "1/2" in first.stdout
    assert sealer(daemon, "status").returncode == 2
    unsealed = sealer(daemon, "operator", "unseal", stdin=keys[2] + "\n")
    assert unsealed.returncode == 0, unsealed.stderr
    assert sealer(daemon, "status").returncode == 0

    assert sealer(daemon, "write", "secret/cli", "user=alice", "pass=wonderland", token=token).returncode == 0
    read = sealer(daemon, "read", "-field=pass", "secret/cli", token=token)
    assert read.stdout.strip() == "wonderland"
    missing = sealer(daemon, "read", "secret/absent", token=token)
    assert missing.returncode != 0

    denied = sealer(daemon, "read", "secret/cli", token="hvs.wrong")
    assert denied.returncode == 1 and "permission denied" in denied.stderr

    assert sealer(daemon, "operator", "seal", token=token).returncode == 0
    assert sealer(daemon, "status").returncode == 2
