"""Group commit for SQLite storage: the writer thread's side.

Writes queue up on the event loop; one drain at a time runs on the writer thread and commits every
write waiting, in one transaction (one fsync). The drain keeps running while writes keep arriving, so a
busy daemon pays one thread hop per group, not per write.

The cost that matters here is not SQLite's but the GIL's: each statement releases the GIL around its
step, and every release can hand the GIL to the event loop and back (a pair of context switches, and a
wait for the loop thread), so the writer's cost per group is counted in statements, not rows. The
group's operations are merged first (last operation on a key wins, as applying them in order would
leave it: nothing between them is ever visible, they share a transaction) into multi-row statements.
The usual group (only puts, or only deletes, up to 64 rows) is then ONE statement, committed on its
own (autocommit: the statement is the transaction, its fsync included); a larger or mixed group takes
BEGIN, a statement per 64 rows, COMMIT.

Each caller's batch stays all-or-nothing on its own: when the merged group fails before its commit
(a caller's bad key or oversized value), nothing is committed, and the group is applied again one
caller at a time, each in a savepoint, so the failing caller is rolled back alone and the others still
commit. A failed commit is never retried: after an I/O error the file's state is the OS's to say, and
every caller hears the error.

Results go back to the event loop in one call per group (not one wake-up per write).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

# A Put (key, value) or a Delete (key, None), its value already checked on the event loop.
Row = tuple[str, bytes | None]
Outcome = BaseException | None
Settle = Callable[[list[tuple["PendingWrite", Outcome]]], None]

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


class PendingWrite:
    """One caller's batch and the future its caller waits on (resolved on the event loop)."""

    __slots__ = ("done", "rows")

    def __init__(self, rows: list[Row], done: asyncio.Future[None]) -> None:
        self.rows = rows
        self.done = done


class GroupCommitter:
    """The queue of writes for one writer connection, drained on the writer thread (the executor's
    only thread). `settle` runs on the writes' event loop with each write and its outcome, in order."""

    def __init__(self, connection: sqlite3.Connection, executor: Executor, settle: Settle) -> None:
        self._connection = connection
        self._executor = executor
        self._settle = settle
        self._waiting: deque[PendingWrite] = deque()
        # True while a drain is queued or running: a write arriving then is picked up by it. Set and
        # cleared under the GIL; the drain re-checks the queue after clearing it, so no write is stranded.
        self._scheduled = False
        # Transactions committed (read by tests that count durable rounds).
        self.commits = 0

    def submit(self, write: PendingWrite) -> None:
        """Queue a write (on the event loop)."""
        self._waiting.append(write)
        if not self._scheduled:
            self._scheduled = True
            self._executor.submit(self._drain)

    def _drain(self) -> None:
        """On the writer thread: commit groups until no write is waiting."""
        try:
            while True:
                group = self._take_waiting()
                if not group:
                    self._scheduled = False
                    if not self._waiting:
                        return
                    # A write arrived between the last take and clearing the flag: keep going (its
                    # submit may also have queued a drain, which then finds nothing to do).
                    self._scheduled = True
                    continue
                self._hand_back(group, self._commit(group))
        except BaseException:
            self._scheduled = False
            raise

    def _take_waiting(self) -> list[PendingWrite]:
        group: list[PendingWrite] = []
        while self._waiting:
            group.append(self._waiting.popleft())
        return group

    def _commit(self, group: list[PendingWrite]) -> list[Outcome]:
        try:
            if self._commit_merged(group):
                return [None] * len(group)
        except Exception as exc:
            return [exc] * len(group)
        try:
            return self._commit_one_by_one(group)
        except Exception as exc:
            return [exc] * len(group)

    def _commit_merged(self, group: list[PendingWrite]) -> bool:
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

    def _commit_one_by_one(self, group: list[PendingWrite]) -> list[Outcome]:
        """Each caller's rows in a savepoint of its own, in one transaction."""
        connection = self._connection
        outcomes: list[Outcome] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for write in group:
                connection.execute("SAVEPOINT one_write")
                try:
                    _apply_rows(connection, write.rows)
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

    def _hand_back(self, group: list[PendingWrite], outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[PendingWrite, Outcome]]] = {}
        for write, outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(write.done.get_loop(), []).append((write, outcome))
        for loop, settled in by_loop.items():
            # A loop closed meanwhile has nobody left waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._settle, settled)


def _merged_statements(group: Sequence[PendingWrite]) -> list[Statement]:
    final: dict[str, bytes | None] = {}
    for write in group:
        for key, value in write.rows:
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
