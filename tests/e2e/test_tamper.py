"""A value tampered with or swapped on disk is a clear 500, logged, never wrong data or a crash."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.conftest import pkcs11_config


def _rows(db: Path) -> dict[str, bytes]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert len(tables) == 1, tables
        return {k: bytes(v) for k, v in conn.execute(f"SELECT * FROM {tables[0]}")}


def _write(db: Path, key: str, value: bytes) -> None:
    with sqlite3.connect(db) as conn:
        table = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchone()[0]
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        conn.execute(f"UPDATE {table} SET {columns[1]} = ? WHERE {columns[0]} = ?", (value, key))


def test_tampered_and_swapped_values_are_refused(daemons, softhsm_token, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, pkcs11_config(softhsm_token, tmp_path)).start(wait_for="unsealed")
    token = json.loads((tmp_path / "init.json").read_text())["root_token"]
    daemon.call("PUT", "secret/first", {"v": "one"}, token=token)
    daemon.call("PUT", "secret/second", {"v": "two"}, token=token)
    daemon.call("PUT", "secret/third", {"v": "three"}, token=token)
    daemon.stop()

    db = tmp_path / "data" / "sealer.db"
    rows = _rows(db)
    logical = {k: v for k, v in rows.items() if k.startswith("logical/")}
    by_name = {k.rsplit("/", 1)[1]: k for k in logical}
    flipped = bytearray(rows[by_name["first"]])
    flipped[-1] ^= 0x01
    _write(db, by_name["first"], bytes(flipped))
    _write(db, by_name["second"], rows[by_name["third"]])

    daemon.start(wait_for="unsealed")
    for name in ("first", "second"):
        status, body = daemon.call("GET", f"secret/{name}", token=token)
        assert status == 500
        assert "decrypt" in body["errors"][0] or "tampered" in body["errors"][0]
    assert daemon.call("GET", "secret/third", token=token)[1]["data"] == {"v": "three"}
    assert by_name["first"] in daemon.log()
