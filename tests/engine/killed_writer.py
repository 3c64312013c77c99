"""Run a writer script in a child process and kill -9 it mid-write: the keys it printed (each printed
only once its write returned) are the acknowledged writes a durability test then looks for."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


async def acknowledged_until_killed(script: str, path: Path, at_least: int) -> list[str]:
    """Start `script` (argv[1] = `path`), read the keys it prints until `at_least` are in, kill -9 it, and
    return every key it printed whole."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(path),
        stdout=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    killed = False
    try:
        async with asyncio.timeout(60):
            while len(acknowledged) < at_least:
                line = await child.stdout.readline()
                assert line, "the writer exited before it was killed"
                acknowledged.append(line.decode().strip())
        child.send_signal(signal.SIGKILL)
        killed = True
        # Lines the child printed just before dying are acknowledged too; a torn last line is not.
        rest = (await child.stdout.read()).decode()
        acknowledged += rest.splitlines()[: rest.count("\n")]
    finally:
        # Signal once only: a second send_signal polls the child and can reap it under asyncio's watcher.
        if not killed:
            child.kill()
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    return acknowledged
