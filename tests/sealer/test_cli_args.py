"""The `sealer` command line without a server: flag spelling, help, usage errors and their exit codes,
`sealer server` argument checks, key=value parsing, and the output helpers."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sealer.cli.base import normalise_argv
from sealer.cli.client import Client, resolve_address, resolve_token
from sealer.cli.env import Env
from sealer.cli.kvdata import DataError, parse_kv
from sealer.cli.main import main
from sealer.cli.output import columns, go_value, human_duration
from sealer.cli.registry import COMMANDS


def run(*argv: str, environ: dict[str, str] | None = None, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.StringIO(stdin), stdout=out, stderr=err, environ=environ or {})
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def all_commands() -> list[list[str]]:
    """Every runnable command by its words, groups nested at any depth (`kv metadata get`)."""

    def leaves(words: list[str], target: object) -> list[list[str]]:
        commands = getattr(target, "commands", None)
        if commands is None:
            return [words]
        return [leaf for sub, child in commands.items() for leaf in leaves([*words, sub], child)]

    return [leaf for name, entry in COMMANDS.items() for leaf in leaves([name], entry.load())]


# --- flag spelling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-format=json"], ["--format=json"]),
        (["-format", "json"], ["--format", "json"]),
        (["--format", "json"], ["--format", "json"]),
        (["-key-shares=3", "-n=3", "-f"], ["--key-shares=3", "-n=3", "-f"]),
        (["-address=http://a:1", "secret/x", "k=-v", "-"], ["--address=http://a:1", "secret/x", "k=-v", "-"]),
        (["-help"], ["--help"]),
        (["-dev-root-token-id=a=b"], ["--dev-root-token-id=a=b"]),
        (["write", "--", "-format=json"], ["write", "--", "-format=json"]),
    ],
)
def test_one_dash_long_flags_become_two_dash(argv: list[str], expected: list[str]) -> None:
    assert normalise_argv(argv) == expected


# --- help -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
@pytest.mark.parametrize("flag", ["-help", "--help", "-h"])
def test_every_command_has_help_with_an_example(command: list[str], flag: str) -> None:
    code, out, err = run(*command, flag)
    name = " ".join(command)
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: sealer {name}")
    assert "Examples:" in out
    assert f"$ sealer {name}" in out


def test_top_level_help() -> None:
    code, out, _ = run("-help")
    assert code == 0
    assert out.startswith("Usage: sealer <command>")
    for name, entry in COMMANDS.items():
        assert re.search(rf"^    {re.escape(name)} {{2,}}{re.escape(entry.summary)}$", out, re.MULTILINE)


def test_no_command_prints_help_to_stderr_and_exits_2() -> None:
    code, out, err = run()
    assert (code, out) == (2, "")
    assert err.startswith("Usage: sealer <command>")


def test_group_help_lists_its_subcommands() -> None:
    code, out, _ = run("operator", "-help")
    assert code == 0
    # The column is as wide as the longest subcommand name, whichever that is.
    assert re.search(r"^    init {2,}Initialize a server$", out, re.MULTILINE)
    assert re.search(r"^    unseal {2,}Unseal the server$", out, re.MULTILINE)
    code, out, err = run("operator")
    assert (code, out) == (2, "")
    assert "Subcommands:" in err


# --- usage errors exit 2 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stauts"], "Error: unknown command 'stauts' (did you mean 'status'?); run `sealer -help`"),
        (["operator", "unsael"],
         "Error: unknown subcommand operator 'unsael' (did you mean 'unseal'?); run `sealer operator -help`"),
        (["status", "-bogus"], "Error: unrecognized arguments: --bogus"),
        (["status", "extra"], "Error: unrecognized arguments: extra"),
        (["read"], "Error: the following arguments are required: PATH"),
        (["status", "-format=xml"],
         "Error: argument --format: invalid choice: 'xml' (choose from 'table', 'json', 'yaml', 'yml')"),
        (["operator", "init", "-key-shares=five"],
         "Error: argument --key-shares/-n: invalid int value: 'five'"),
        (["server"], "a configuration file is required: -config=FILE (or -dev)"),
        (["server", "-config=x.yaml", "-dev"], "-config and -dev cannot be used together"),
        (["server", "-dev-root-token-id=root"], "-dev-listen-address and -dev-root-token-id need -dev"),
        (["server", "-dev", "-dev-listen-address=localhost"],
         "-dev-listen-address: expected host:port, got 'localhost'"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == message


def test_usage_error_shows_the_commands_usage() -> None:
    _, _, err = run("read")
    assert err.startswith("usage: sealer read [options] PATH [K=V...]")


# --- sealer server ----------------------------------------------------------------------------------


def test_server_bad_config_exits_1_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "sealer.yaml"
    path.write_text("listener:\n  adress: 127.0.0.1:8200\nstorage: {memory: {}}\n")
    code, out, err = run("server", f"-config={path}")
    assert (code, out) == (1, "")
    assert err == "Error loading configuration: listener.adress: unknown key (did you mean 'address'?)\n"


def test_server_missing_config_file(tmp_path: Path) -> None:
    code, _, err = run("server", "--config", str(tmp_path / "nope.yaml"))
    assert code == 1
    missing = tmp_path / "nope.yaml"
    assert err == f"Error loading configuration: cannot read {missing}: No such file or directory\n"


def test_server_config_reads_the_pin_from_the_injected_environment(tmp_path: Path) -> None:
    path = tmp_path / "sealer.yaml"
    path.write_text("storage: {memory: {}}\nseal: {pkcs11: {lib: /x.so, token_label: t}}\n")
    code, _, err = run("server", f"-config={path}", environ={})
    assert code == 1
    assert "SEALER_HSM_PIN" in err


# --- key=value data ---------------------------------------------------------------------------------


def test_stdin_can_be_used_once() -> None:
    with pytest.raises(DataError, match="stdin already consumed"):
        parse_kv(["a=-", "b=-"], io.StringIO("x"))


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-"], "[1, 2]", "stdin must hold a JSON object"),
        (["-"], "{nope", "stdin is not valid JSON"),
        (["a=@/nonexistent/file"], "", "error reading /nonexistent/file: No such file or directory"),
    ],
)
def test_bad_data(args: list[str], stdin: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_kv(args, io.StringIO(stdin))


def test_values_keep_equals_signs_and_empty_values() -> None:
    assert parse_kv(["a=b=c", "empty=", ""], io.StringIO()) == {"a": "b=c", "empty": ""}


# --- address, token, client -------------------------------------------------------------------------


def test_default_address_and_trailing_slash() -> None:
    assert resolve_address(None, Env(environ={})) == "http://127.0.0.1:8200"
    flag_wins = resolve_address("https://sealer:8200/", Env(environ={"SEALER_ADDR": "http://x:1"}))
    assert flag_wins == "https://sealer:8200"
    # An empty variable counts as unset.
    assert resolve_address(None, Env(environ={"SEALER_ADDR": "", "VAULT_ADDR": "http://v:1"})) == "http://v:1"


def test_token_file(tmp_path: Path) -> None:
    env = Env(environ={"HOME": str(tmp_path)})
    assert resolve_token(env) is None
    (tmp_path / ".sealer-token").write_text("  \n")
    assert resolve_token(env) is None
    (tmp_path / ".sealer-token").write_text("hvs.token\n")
    assert resolve_token(env) == "hvs.token"


def test_client_repr_hides_the_token() -> None:
    client = Client("http://127.0.0.1:8200", "hvs.very-secret")
    assert "very-secret" not in repr(client)
    assert client.url("secret/a b/c", {"list": "true"}) == "http://127.0.0.1:8200/v1/secret/a%20b/c?list=true"


def test_read_secret_reads_a_line_when_stdin_is_not_a_tty() -> None:
    assert Env(stdin=io.StringIO("key-1\nkey-2\n")).read_secret("Key: ") == "key-1\n"


# --- output helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (60, "1m"), (90, "1m30s"), (3600, "1h"), (3601, "1h1s"), (3660, "1h1m"),
     (2764800, "768h"), (-60, "-1m")],
)
def test_human_duration_matches_vault(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "<nil>"), (True, "true"), ("s", "s"), (3, "3"), (1.5, "1.5"), ([1, "a"], "[1 a]"),
     ({"b": 1, "a": {"c": False}}, "map[a:map[c:false] b:1]")],
)
def test_values_print_like_gos_v(value: object, text: str) -> None:
    assert go_value(value) == text


def test_columns_pad_all_but_the_last_and_fill_empty_cells() -> None:
    assert columns([["Key", "Value"], ["a-long-key", ""], ["b", "x"]]) == (
        "Key           Value\na-long-key    n/a\nb             x"
    )


# --- the console script -----------------------------------------------------------------------------


def test_entrypoint_exits_with_mains_code() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-c", "from sealer.cli.main import entrypoint; entrypoint()", "status",
         f"-address=http://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert f"cannot reach the Sealer server at http://127.0.0.1:{port}" in proc.stderr
