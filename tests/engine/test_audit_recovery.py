"""Where a file device's chain goes on after a crash: from the file's own last line (the stored position
is only a lower bound, saved in the background), with the bytes of a write a crash cut short removed; from
the stored position when the file is gone, exact after a clean stop. A "crash" here is a second Core
started on the same barrier without the first one's teardown: nothing of the first is closed or saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import engine.audit.device as device_module
from engine.audit.chain import ChainState
from engine.audit.table import AuditEntry, load_chain
from engine.audit.verify import verify_lines
from engine.core import Core
from engine.request import Op
from tests.engine.audit_harness import AuditWorld, entries, world_fixture  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def no_background_saves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored position then stays where enabling the device put it: far behind the file."""
    monkeypatch.setattr(device_module, "SAVE_INTERVAL", 3600.0)
    monkeypatch.setattr(device_module.time, "monotonic", lambda: 0.0)


async def _stored(world: AuditWorld, entry: AuditEntry | None = None) -> ChainState:
    entry = entry or world.core.audit.entry("file")
    assert entry is not None
    return await load_chain(world.barrier, entry)


async def _crash_and_start(world: AuditWorld) -> None:
    """What a kill -9 leaves: the files closed by the kernel, nothing else closed or saved."""
    device = world.core.audit.device("file")
    assert device is not None
    await device.sink.close()
    world.core = Core(world.barrier)
    await world.core.setup()


async def _busy(world: AuditWorld, log: Path, writes: int = 4) -> None:
    await world.enable_file("file", log)
    for n in range(writes):
        await world.call(Op.UPDATE, f"secret/item{n}", {"value": f"v{n}"})


async def test_a_crash_continues_from_the_files_last_line(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await _busy(world, log)
    last = entries(log)[-1]["sealer_chain"]
    assert (await _stored(world)).seq < last["seq"] + 1  # the store lags: only the file knows
    await _crash_and_start(world)
    await world.call(Op.READ, "secret/item0")

    start = entries(log)[len(entries(log)) - 3]
    assert start["type"] == "chain-start"
    assert start["sealer_chain"]["seq"] == last["seq"] + 1 and start["sealer_chain"]["prev"] == last["mac"]
    assert verify_lines(log.read_bytes().splitlines(), await world.chain_key("file")).ok


async def test_a_write_cut_short_is_removed(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await _busy(world, log)
    whole = log.read_bytes()
    with log.open("ab") as file:
        file.write(whole.splitlines(keepends=True)[-1][:100])  # a line's first bytes, no newline
    await _crash_and_start(world)
    await world.call(Op.READ, "secret/item0")

    after = log.read_bytes()
    assert after.startswith(whole) and json.loads(after[len(whole):].splitlines()[0])["type"] == "chain-start"
    assert verify_lines(after.splitlines(), await world.chain_key("file")).ok


async def test_a_line_of_another_chain_is_not_continued(world: AuditWorld, tmp_path: Path) -> None:
    """A last line whose MAC is not the device's (edited, or from another device) is no position: the stored
    one is used, and verify reports the break rather than the device hiding it."""
    log = tmp_path / "audit.log"
    await _busy(world, log)
    lines = log.read_bytes().splitlines(keepends=True)
    forged = json.loads(lines[-1])
    forged["sealer_chain"]["seq"] += 100
    log.write_bytes(b"".join([*lines, json.dumps(forged).encode() + b"\n"]))
    stored = await _stored(world)
    await _crash_and_start(world)
    await world.call(Op.READ, "secret/item0")

    start = entries(log)[len(lines) + 1]
    assert start["type"] == "chain-start" and start["sealer_chain"]["seq"] == stored.seq
    assert not verify_lines(log.read_bytes().splitlines(), await world.chain_key("file")).ok


async def test_a_clean_stop_stores_the_exact_position(world: AuditWorld, tmp_path: Path) -> None:
    """The file renamed away while the daemon is down: the new file links to the old one's last line."""
    log = tmp_path / "audit.log"
    await _busy(world, log)
    await world.restart()
    await world.call(Op.READ, "secret/item0")
    old = log.read_bytes().splitlines(keepends=True)
    assert (await _stored(world)).seq < json.loads(old[-1])["sealer_chain"]["seq"] + 1
    entry = world.core.audit.entry("file")
    await world.core.teardown()
    assert (await _stored(world, entry)).seq == json.loads(old[-1])["sealer_chain"]["seq"] + 1

    log.rename(tmp_path / "audit.log.1")
    await world.core.setup()
    await world.call(Op.READ, "secret/item1")
    new = log.read_bytes().splitlines(keepends=True)
    assert json.loads(new[0])["sealer_chain"]["prev"] == json.loads(old[-1])["sealer_chain"]["mac"]
    assert verify_lines(old + new, await world.chain_key("file")).ok


async def test_a_failed_write_leaves_no_fragment_behind(world: AuditWorld, tmp_path: Path) -> None:
    """A line the disk took in part (here: added by hand after the device's file failed) is cut before
    the next line, so the chain goes on unbroken."""
    log = tmp_path / "audit.log"
    await _busy(world, log, writes=1)
    device = world.core.audit.device("file")
    assert device is not None
    sink = device.sink
    real_write = type(sink).write

    async def fail_after_part(line: bytes) -> None:
        with log.open("ab") as file:
            file.write(line[:50])
        raise OSError(28, "No space left on device")

    sink.write = fail_after_part  # type: ignore[method-assign]
    assert (await world.error(Op.READ, "secret/item0")).status == 500
    sink.write = real_write.__get__(sink)  # type: ignore[method-assign]
    await world.call(Op.READ, "secret/item0")
    assert verify_lines(log.read_bytes().splitlines(), await world.chain_key("file")).ok
