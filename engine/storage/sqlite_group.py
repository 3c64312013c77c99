"""Group commit for SQLite storage: the writer process's side (sqlite_writer_main.py).

The writer takes every write waiting and commits them in one transaction (one fsync). Its cost is
counted in statements, not rows: the group's operations are merged first (last operation on a key
wins, as applying them in order would leave it: nothing between them is ever visible, they share a
transaction) into multi-row statements. The usual group (only puts, or only deletes, up to 64 rows) is
then ONE statement, committed on its own (autocommit: the statement is the transaction, its fsync
included); a larger or mixed group takes BEGIN, a statement per 64 rows, COMMIT.

Each caller's batch stays all-or-nothing on its own: when the merged group fails before its commit
(a caller's bad key or oversized value), nothing is committed, and the group is applied again one
caller at a time, each in a savepoint, so the failing caller is rolled back alone and the others still
commit. A failed commit is never retried: after an I/O error the file's state is the OS's to say, and
every caller hears the error.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence

# A Put (key, value) or a Delete (key, None), its value already checked by the caller.
Row = tuple[str, bytes | None]
# What became of one caller's rows: None (committed) or the error that stopped them.
Outcome = Exception | None

PUT = "INSERT INTO entries (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
DELETE = "DELETE FROM entries WHERE key = ?"

# Rows per merged statement, at most: 128 bound values, far below SQLite's limit. Statements are cut in
# powers of two so that only a handful of distinct texts ever reach the connection's statement cache.
_MAX_ROWS_LOG2 = 6
# What one caller's rows can cause on their own, before anything is committed: a key that does not
# encode, a value too big, a constraint. Anything else (disk full, I/O error) is the file's, and fails all.
_A_CALLERS_OWN = (
    sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError, ValueError,
    TypeError, OverflowError,
)  # fmt: skip
Statement = tuple[str, list[str | bytes]]


class GroupCommitter:
    """Commits groups of callers' row lists on the writer connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        # Transactions committed (reported to tests that count durable rounds).
        self.commits = 0

    def commit(self, group: Sequence[Sequence[Row]]) -> list[Outcome]:
        """Commit every caller's rows in `group`; one outcome per caller, in order."""
        try:
            if self._commit_merged(group):
                return [None] * len(group)
        except Exception as exc:
            return [exc] * len(group)
        try:
            return self._commit_one_by_one(group)
        except Exception as exc:
            return [exc] * len(group)

    def _commit_merged(self, group: Sequence[Sequence[Row]]) -> bool:
        """The common path. False when applying the group failed (nothing committed, to be retried per
        caller); raises when the commit itself failed."""
        connection = self._connection
        statements = _merged_statements(group)
        if len(statements) == 1:
            try:
                connection.execute(*statements[0])
            except _A_CALLERS_OWN:
                return False
            self.commits += 1
            return True
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                connection.execute(*statement)
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return False
        try:
            connection.execute("COMMIT")
        except BaseException:
            # A failed COMMIT may already have rolled back on its own.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self.commits += 1
        return True

    def _commit_one_by_one(self, group: Sequence[Sequence[Row]]) -> list[Outcome]:
        """Each caller's rows in a savepoint of its own, in one transaction."""
        connection = self._connection
        outcomes: list[Outcome] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for rows in group:
                connection.execute("SAVEPOINT one_write")
                try:
                    _apply_rows(connection, rows)
                    outcomes.append(None)
                except Exception as exc:
                    if not connection.in_transaction:
                        raise  # SQLite rolled the whole transaction back (disk full, I/O error): all fail
                    # This caller's failure alone (a bad key, a value too big): undo just its rows.
                    connection.execute("ROLLBACK TO one_write")
                    outcomes.append(exc)
                connection.execute("RELEASE one_write")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self.commits += 1
        return outcomes


def _merged_statements(group: Sequence[Sequence[Row]]) -> list[Statement]:
    final: dict[str, bytes | None] = {}
    for rows in group:
        for key, value in rows:
            final[key] = value
    puts: list[str | bytes] = []
    deletes: list[str | bytes] = []
    for key, value in final.items():
        if value is None:
            deletes.append(key)
        else:
            puts += (key, value)
    statements = [(_put_rows(rows), puts[2 * start : 2 * (start + rows)]) for start, rows in _chunks(len(puts) // 2)]
    statements += [(_delete_rows(rows), deletes[start : start + rows]) for start, rows in _chunks(len(deletes))]
    return statements


def _apply_rows(connection: sqlite3.Connection, rows: Sequence[Row]) -> None:
    for key, value in rows:
        if value is None:
            connection.execute(DELETE, (key,))
        else:
            connection.execute(PUT, (key, value))


def _chunks(count: int) -> list[tuple[int, int]]:
    """(start, rows) pieces covering `count` rows: as many of the largest size as fit, then the rest
    in powers of two (20 rows -> 16 + 4)."""
    largest = 1 << _MAX_ROWS_LOG2
    pieces: list[tuple[int, int]] = []
    start = 0
    while count - start >= largest:
        pieces.append((start, largest))
        start += largest
    for bit in range(_MAX_ROWS_LOG2 - 1, -1, -1):
        size = 1 << bit
        if (count - start) & size:
            pieces.append((start, size))
            start += size
    return pieces


@functools.cache
def _put_rows(rows: int) -> str:
    values = ", ".join(["(?, ?)"] * rows)
    return (
        f"INSERT INTO entries (key, value) VALUES {values} "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )


@functools.cache
def _delete_rows(rows: int) -> str:
    return f"DELETE FROM entries WHERE key IN ({', '.join(['?'] * rows)})"
