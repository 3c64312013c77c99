"""The chained MACs: an intact log verifies, each kind of tampering is caught at its line, a restart
and a rotation (SIGHUP) continue the chain."""

from __future__ import annotations

import json
from pathlib import Path

from engine.audit.chain import GENESIS
from engine.audit.verify import verify_lines
from engine.request import Op
from tests.engine.audit_harness import AuditWorld, entries, world_fixture  # noqa: F401 (fixture)


async def _busy_log(world: AuditWorld, log: Path) -> list[bytes]:
    await world.enable_file("file", log)
    for n in range(4):
        await world.call(Op.UPDATE, f"secret/item{n}", {"value": f"v{n}"})
    return log.read_bytes().splitlines(keepends=True)


async def test_intact_log_verifies(world: AuditWorld, tmp_path: Path) -> None:
    lines = await _busy_log(world, tmp_path / "audit.log")
    key = await world.chain_key("file")
    assert len(lines) == 9
    assert verify_lines(lines, key) == verify_lines(lines, key) and verify_lines(lines, key).ok
    chain = [json.loads(line)["sealer_chain"] for line in lines]
    assert [c["seq"] for c in chain] == list(range(9))
    assert chain[0]["prev"] == GENESIS
    assert all(chain[i]["prev"] == chain[i - 1]["mac"] for i in range(1, 9))


async def test_each_tampering_is_caught(world: AuditWorld, tmp_path: Path) -> None:
    lines = await _busy_log(world, tmp_path / "audit.log")
    key = await world.chain_key("file")
    edited_entry = json.loads(lines[4])
    edited_entry["request"]["path"] = "secret/other"
    edited = json.dumps(edited_entry, separators=(",", ":")).encode() + b"\n"
    cases = {
        "deleted": (lines[:3] + lines[4:], 4),
        "edited": ([*lines[:4], edited, *lines[5:]], 5),
        "inserted": ([*lines[:5], lines[2], *lines[5:]], 6),
        "reordered": ([*lines[:2], lines[3], lines[2], *lines[4:]], 3),
        "truncated start": (lines[2:], 1),
        "foreign line": ([*lines[:1], b'{"type":"request"}\n', *lines[1:]], 2),
    }
    for name, (tampered, broken) in cases.items():
        verdict = verify_lines(tampered, key)
        assert not verdict.ok and verdict.broken_line == broken, (name, verdict)
    # Dropping the tail leaves a valid (shorter) chain: the persisted position shows it on restart.
    assert verify_lines(lines[:-1], key).ok


async def test_restart_continues_the_chain(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await _busy_log(world, log)
    await world.restart()
    await world.call(Op.READ, "secret/item0")
    key = await world.chain_key("file")
    all_entries = entries(log)
    restart = all_entries[9]
    assert restart["type"] == "chain-start" and restart["sealer_chain"]["seq"] == 9
    assert verify_lines(log.read_bytes().splitlines(), key).ok


async def test_rotation_links_the_new_file_to_the_old(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    old_lines = await _busy_log(world, log)
    rotated = tmp_path / "audit.log.1"
    log.rename(rotated)
    await world.core.audit_reopen()
    await world.call(Op.READ, "secret/item1")
    key = await world.chain_key("file")
    new_lines = log.read_bytes().splitlines(keepends=True)
    first = json.loads(new_lines[0])
    assert first["type"] == "chain-start" and first["device_path"] == "file/"
    assert first["sealer_chain"]["prev"] == json.loads(old_lines[-1])["sealer_chain"]["mac"]
    # Each file verifies alone (the new one starts at its chain-start), and the two together do too.
    assert verify_lines(new_lines, key).ok
    assert verify_lines(rotated.read_bytes().splitlines(), key).ok
    assert verify_lines(old_lines + new_lines, key).ok
    assert not verify_lines(new_lines[1:], key).ok


async def test_prefixed_lines_verify(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log, prefix="AUDIT ")
    await world.call(Op.READ, "sys/mounts")
    key = await world.chain_key("file")
    lines = log.read_bytes().splitlines()
    assert verify_lines(lines, key, prefix=b"AUDIT ").ok
    assert not verify_lines(lines, key).ok
