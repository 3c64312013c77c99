"""Flag conventions shared by every command: Go-style booleans (-flag, -flag=true, -flag=false), repeated
and comma-separated list flags, nested command groups, and the token file's permissions."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from sealer.cli.base import Parser, UsageError, repeated
from sealer.cli.client import resolve_token, store_token
from sealer.cli.env import Env
from sealer.cli.main import main
from sealer.cli.output import map_section, section


def parser() -> Parser:
    made = Parser(env=Env(stdout=io.StringIO(), stderr=io.StringIO()), prog="t")
    made.add_bool("--renewable", default=True, help="on by default")
    made.add_bool("--orphan", help="off by default")
    made.add_argument("path", nargs="?")
    return made


@pytest.mark.parametrize(
    ("argv", "renewable", "orphan", "path"),
    [
        ([], True, False, None),
        (["--orphan", "secret/x"], True, True, "secret/x"),
        (["--orphan=true", "--renewable=false"], False, True, None),
        (["--orphan=0", "--renewable=1"], True, False, None),
        (["--renewable=F", "--", "--orphan=true"], False, False, "--orphan=true"),
    ],
)
def test_booleans_take_go_style_values(argv: list[str], renewable: bool, orphan: bool, path: str | None) -> None:
    args = parser().parse_args(argv)
    assert (args.renewable, args.orphan, args.path) == (renewable, orphan, path)


def test_a_boolean_with_another_value_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="argument --orphan: expected true or false, got 'maybe'"):
        parser().parse_args(["--orphan=maybe"])


def test_existing_store_true_flags_accept_explicit_values_too() -> None:
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.StringIO(), stdout=out, stderr=err, environ={"SEALER_ADDR": "http://127.0.0.1:1"})
    # -force=false on `write` leaves it off, so writing nothing is refused before any request is made.
    assert main(["write", "-force=false", "secret/x"], env) == 2
    assert "Must supply data or use -force" in err.getvalue()


def test_repeated_list_flags_split_on_commas() -> None:
    assert repeated(["a,b", " c ", "", "d,,e"]) == ["a", "b", "c", "d", "e"]
    assert repeated(None) == []


def test_nested_groups_dispatch_and_show_their_help() -> None:
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.StringIO(), stdout=out, stderr=err, environ={})
    assert main(["kv", "metadata", "-help"], env) == 0
    assert out.getvalue().startswith("Usage: sealer kv metadata <subcommand>")
    assert main(["kv", "metadata", "gte"], env) == 2
    assert "unknown subcommand kv metadata 'gte' (did you mean 'get'?)" in err.getvalue()


def test_the_token_file_is_private_and_read_back(tmp_path: Path) -> None:
    env = Env(environ={"HOME": str(tmp_path)})
    (tmp_path / ".sealer-token").write_text("old")
    (tmp_path / ".sealer-token").chmod(0o644)
    path = store_token(env, "hvs.new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # replaced, not rewritten with the old mode
    assert resolve_token(env) == "hvs.new"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_every_flag_of_every_command_has_help() -> None:
    from sealer.cli.base import Group
    from sealer.cli.completion import walk

    missing = [(words, action.option_strings) for words, target in walk() if not isinstance(target, Group)
               for action in target().parser(Env())._actions if action.option_strings and not action.help]
    assert missing == []


@pytest.mark.parametrize(
    ("title", "data", "expected"),
    [  # headers from Vault's own documentation of kv get / kv metadata get
        ("Metadata", {"created_time": 1, "custom_metadata": 1, "version": 1}, "======= Metadata ======="),
        ("Data", {"passcode": 1}, "====== Data ======"),
        ("Version 1", {"created_time": 1, "deletion_time": 1, "destroyed": 1}, "====== Version 1 ======"),
        ("Metadata", {"delete_version_after": 1, "max_versions": 1}, "========== Metadata =========="),
        ("Data", {}, "== Data =="),
    ],
)
def test_section_headers_are_as_wide_as_vaults(title: str, data: dict[str, int], expected: str) -> None:
    assert map_section(title, data) == expected


def test_path_headers_are_as_wide_as_the_path() -> None:
    assert section("Secret Path", len("secret/data/creds")) == "== Secret Path =="
    assert section("Metadata Path", len("secret/metadata/creds")) == "=== Metadata Path ==="
