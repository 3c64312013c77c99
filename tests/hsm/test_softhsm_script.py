"""ci/softhsm/make-token.sh and the tests' SoftHsmToken helper."""

from __future__ import annotations

import subprocess
from pathlib import Path

from softhsm import MAKE_TOKEN, make_token


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(MAKE_TOKEN), *args], capture_output=True, text=True, timeout=60)


def token_dirs(store: Path) -> set[str]:
    return {p.name for p in (store / "tokens").iterdir()}


def test_creates_a_private_store_and_prints_only_the_conf_path(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = run_script(str(store), "first", "1234", "5678")
    assert result.returncode == 0, result.stderr
    conf = store.resolve() / "softhsm2.conf"
    assert result.stdout == f"{conf}\n"
    assert conf.read_text().splitlines() == [
        f"directories.tokendir = {store.resolve() / 'tokens'}",
        "objectstore.backend = file",
        "log.level = ERROR",
    ]
    assert len(token_dirs(store)) == 1


def test_is_idempotent_per_label(tmp_path: Path) -> None:
    make_token(tmp_path, "first", "1234", "5678")
    before = token_dirs(tmp_path)
    again = make_token(tmp_path, "first", "1234", "5678")
    assert token_dirs(tmp_path) == before
    make_token(tmp_path, "second token", "1234", "5678")
    assert len(token_dirs(tmp_path)) == 2
    assert again.conf == tmp_path.resolve() / "softhsm2.conf"


def test_a_label_that_only_prefixes_an_existing_one_is_a_new_token(tmp_path: Path) -> None:
    make_token(tmp_path, "sealer-long", "1234", "5678")
    make_token(tmp_path, "sealer", "1234", "5678")
    assert len(token_dirs(tmp_path)) == 2


def test_refuses_a_conf_that_points_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "softhsm2.conf").write_text("directories.tokendir = /var/lib/softhsm/tokens/\n")
    result = run_script(str(tmp_path), "x", "1234", "5678")
    assert result.returncode == 1
    assert "refusing" in result.stderr
    assert not list((tmp_path / "tokens").iterdir())


def test_usage_error_without_four_arguments(tmp_path: Path) -> None:
    result = run_script(str(tmp_path), "only-a-label")
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_the_token_repr_hides_the_pins(tmp_path: Path) -> None:
    token = make_token(tmp_path, "shown", "pin-4321", "so-pin-8765")
    assert "pin-4321" not in repr(token)
    assert "so-pin-8765" not in repr(token)
    assert token.env()["SOFTHSM2_CONF"] == str(token.conf)
