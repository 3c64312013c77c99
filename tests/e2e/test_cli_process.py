"""The `sealer` executable as a real process: an operator's shell script chaining commands (bash -e),
Vault's environment variable names, a share typed on stdin that never shows up in the output, and the
bash completion script working in a real bash."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from softhsm import make_token

from tests.e2e.cli_helpers import Cli
from tests.e2e.conftest import pkcs11_config, shamir_config
from tests.e2e.daemon import Daemon

SCRIPT = Path(__file__).parent / "scripts" / "operator.sh"
BIN = str(Path(sys.executable).parent)  # where the `sealer` entry point is installed


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("cli-process")
    token = make_token(softhsm.directory, f"cli-proc-{workdir.name}", softhsm.pin, softhsm.so_pin)
    server = Daemon(workdir=workdir, config=pkcs11_config(token, workdir), env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    yield server, json.loads((workdir / "init.json").read_text())["root_token"]
    server.kill()


def test_an_operators_script_chains_commands_under_bash_e(daemon: tuple[Daemon, str], tmp_path: Path) -> None:
    server, root = daemon
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "SEALER_"))}
    environ.update(SEALER_ADDR=server.address, ROOT_TOKEN=root, HOME=str(tmp_path),
                   PATH=f"{BIN}:{environ.get('PATH', '/usr/bin:/bin')}")
    result = subprocess.run(["bash", "-e", str(SCRIPT)], env=environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stdout.strip().endswith("operator script: ok")
    # What the script left behind, seen through the API: the secret, and the login token revoked.
    status, body = server.call("GET", "app-kv/data/db", token=root)
    assert status == 200 and body["data"]["data"]["password"] == "s3cret-from-script"
    stored = (tmp_path / ".sealer-token").read_text()
    assert server.call("GET", "auth/token/lookup-self", token=stored)[0] == 403


def test_vault_environment_names_and_the_token_file(daemon: tuple[Daemon, str], tmp_path: Path) -> None:
    server, root = daemon
    cli = Cli(address="http://127.0.0.1:1", home=tmp_path)  # SEALER_ADDR points nowhere: VAULT_ADDR is used
    vault_env = {"VAULT_ADDR": server.address, "VAULT_TOKEN": root}
    wrote = cli.process("write", "secret/from-vault-env", "k=v", extra={**vault_env, "SEALER_ADDR": ""})
    assert wrote.returncode == 0, wrote.stderr
    assert server.call("GET", "secret/from-vault-env", token=root)[1]["data"] == {"k": "v"}

    logged_in = cli.process("login", "-", stdin=root, extra={"VAULT_ADDR": server.address, "SEALER_ADDR": ""})
    assert logged_in.returncode == 0, logged_in.stderr
    assert (tmp_path / ".sealer-token").read_text() == root
    read = cli.process("read", "-field=k", "secret/from-vault-env", extra={"VAULT_ADDR": server.address,
                                                                            "SEALER_ADDR": ""})
    assert (read.returncode, read.stdout) == (0, "v")  # no newline: stdout is a pipe, as in Vault


def test_an_unseal_share_typed_on_stdin_unseals_and_is_never_echoed(daemons: Any, tmp_path: Path) -> None:
    server = daemons(tmp_path / "shamir", shamir_config(tmp_path / "shamir")).start()
    cli = Cli(address=server.address, home=tmp_path)
    assert cli.process("status").returncode == 2  # not initialised: sealed
    init = cli.process("operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json")
    assert init.returncode == 0, init.stderr
    shares = json.loads(init.stdout)["unseal_keys_b64"]
    sealed = cli.process("read", "secret/x", token=json.loads(init.stdout)["root_token"])
    assert sealed.returncode == 2 and "sealed" in sealed.stderr.lower()  # sealed is 2, as for `status`
    for share, expected_code in ((shares[0], 2), (shares[2], 0)):
        typed = cli.process("operator", "unseal", stdin=share + "\n")
        assert typed.returncode == 0, typed.stderr
        assert share not in typed.stdout and share not in typed.stderr
        assert cli.process("status").returncode == expected_code


def test_bash_completion_completes_commands_subcommands_flags_and_values(tmp_path: Path) -> None:
    script = subprocess.run([sys.executable, "-m", "sealer", "completion", "bash"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    (tmp_path / "sealer.bash").write_text(script)

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        program = (f"source {tmp_path / 'sealer.bash'}; COMP_WORDS=(sealer {line}); "
                   f"COMP_CWORD={len(words)}; _sealer; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.split()

    assert complete("ope") == ["operator"]
    assert complete("kv", "meta") == ["metadata"]
    assert complete("kv", "metadata", "") == ["get", "put", "delete"]
    assert complete("token", "create", "-po") == ["-policy"]
    assert complete("read", "-format", "=", "js") == ["json"]
    assert complete("read", "-format", "y") == ["yaml", "yml"]
    assert complete("hsm", "create-key", "-type", "=", "") == ["aes", "hmac"]


def _on_a_terminal(argv: list[str], environ: dict[str, str], typed: str, prompt: str) -> str:
    """Run a command with a pseudo-terminal as its controlling terminal, type `typed` once `prompt`
    shows, and return everything the terminal displayed (what a person at the keyboard would see)."""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(argv, env=environ, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                               preexec_fn=take_terminal)
    os.close(slave)
    shown, sent = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not sent and prompt.encode() in shown:
                os.write(master, typed.encode() + b"\n")
                sent = True
        if sent:
            process.wait(timeout=60)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    assert sent, f"no prompt {prompt!r}; the terminal showed: {shown!r}"
    assert process.returncode == 0, shown
    return shown.decode(errors="replace")


def test_a_token_typed_at_a_terminal_is_not_echoed(daemon: tuple[Daemon, str], tmp_path: Path) -> None:
    server, root = daemon
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "SEALER_"))}
    environ.update(SEALER_ADDR=server.address, HOME=str(tmp_path))
    shown = _on_a_terminal([sys.executable, "-m", "sealer", "login", "-format=json", "-field=token_accessor"],
                           environ, root, "Token (will be hidden): ")
    assert root not in shown  # neither echoed while typed nor printed after
    assert (tmp_path / ".sealer-token").read_text() == root
