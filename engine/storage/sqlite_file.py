"""What both sides of SQLite storage agree on about the file: its schema and how a connection to it is
opened. Imports only what the writer process (sqlite_writer_main.py) needs, so it starts quickly."""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# A rowid table: values are stored in the order they are first written, and the key's index holds only
# the keys. A commit of writes under random keys (token and lease ids) then dirties the index's small
# pages and the table's last ones, not one page of full values per key: 65 WAL pages instead of 99 for
# eight token creates (WITHOUT ROWID, the layout of files made before, still works the same and is kept
# where it exists). The price is a second seek per read from the file, ~5 us at a million keys.
SCHEMA = "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)"

BUSY_TIMEOUT_S = 5.0
CACHE_SIZE = -16384  # KiB per connection (SQLite's default is 2 MiB)


def connect(path: str | os.PathLike[str], *, check_same_thread: bool = True) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; the writer opens its own explicitly.
    connection = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=check_same_thread
    )
    connection.execute(f"PRAGMA cache_size = {CACHE_SIZE}")
    return connection


def open_writer(path: str, extra: Sequence[str]) -> sqlite3.Connection:
    """The one connection that writes: WAL journal, every commit synced, the schema in place."""
    connection = connect(path)
    try:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.OperationalError(f"cannot use WAL journal mode (got {mode})")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(SCHEMA)
        for statement in extra:
            connection.execute(statement)
    except BaseException:
        connection.close()
        raise
    return connection


def describe(exc: BaseException) -> str:
    """An error as a person reads it: SQLite's message and its code name (SQLITE_FULL...)."""
    code = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({code})" if code else str(exc)
