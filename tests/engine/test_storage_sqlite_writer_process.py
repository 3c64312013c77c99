"""SQLite storage's writer process: its own lifetime, and what happens when it is lost."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import StorageError
from engine.storage.sqlite import SqliteStorage
from tests.engine.killed_writer import REPO

# Opens storage, prints its writer's pid, then waits to be killed.
OPEN_AND_WAIT_CHILD = """
import asyncio, sys
from engine.storage.sqlite import SqliteStorage

async def main():
    storage = await SqliteStorage.open(sys.argv[1])
    await storage.put("k", b"v")
    print(storage.writer_pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has exited; its reaping is its new parent's business


async def _until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not condition():
                await asyncio.sleep(0.02)  # poll, bounded by the timeout above
    except TimeoutError:
        raise AssertionError(f"no {what} within {seconds} s") from None


async def test_a_killed_writer_fails_only_what_it_held_and_the_next_write_starts_another(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        await storage.put("before", b"acknowledged")
        first = storage.writer_pid
        assert first is not None

        os.kill(first, signal.SIGSTOP)  # it can answer nothing now
        writes = [asyncio.ensure_future(storage.put(f"k/{i}", b"v")) for i in range(40)]
        await asyncio.sleep(0)  # the first write goes out; the others wait for its answer
        os.kill(first, signal.SIGKILL)
        results = await asyncio.gather(*writes, return_exceptions=True)

        assert all(isinstance(result, StorageError) for result in results)
        messages = [str(result) for result in results]
        assert all(str(tmp_path) in message and "writer process stopped" in message for message in messages)
        assert "may or may not be on disk" in messages[0]
        assert all("nothing of it was written" in message for message in messages[1:])

        await storage.put("after", b"written by a new writer")
        assert storage.writer_pid not in (None, first)
        warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
        assert any(
            "writer process stopped on its own" in message and f"exit code {-signal.SIGKILL}" in message
            for message in warnings
        ), warnings
        assert await storage.get("before") == b"acknowledged"
        assert await storage.list("k/") == []
    finally:
        await storage.close()

    reopened = await SqliteStorage.open(tmp_path / "store.db")
    try:
        assert await reopened.get("after") == b"written by a new writer"
    finally:
        await reopened.close()


async def test_interrupt_and_terminate_signals_leave_the_writer_to_its_daemon(tmp_path: Path) -> None:
    # Ctrl-C or a service manager's TERM reaches the whole process group; the daemon closes storage last.
    storage = await SqliteStorage.open(tmp_path / "store.db")
    try:
        pid = storage.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        await storage.put("k", b"still written")
        assert storage.writer_pid == pid
        assert await storage.get("k") == b"still written"
    finally:
        await storage.close()
    await _until(lambda: _exited(pid), "the writer to exit at close")


async def test_the_writer_exits_when_its_daemon_is_killed(tmp_path: Path) -> None:
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OPEN_AND_WAIT_CHILD, str(tmp_path / "store.db"),
        stdout=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert daemon.stdout is not None
    try:
        async with asyncio.timeout(30):
            writer_pid = int((await daemon.stdout.readline()).decode())
        assert not _exited(writer_pid)
    finally:
        daemon.kill()
        await daemon.wait()
    await _until(lambda: _exited(writer_pid), "the orphaned writer to exit")

    reopened = await SqliteStorage.open(tmp_path / "store.db")
    try:
        assert await reopened.get("k") == b"v"
    finally:
        await reopened.close()


async def test_closing_stops_the_writer(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "store.db")
    pid = storage.writer_pid
    assert pid is not None
    await storage.close()
    assert storage.writer_pid is None
    await _until(lambda: _exited(pid), "the writer to exit")
