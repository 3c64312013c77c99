"""Fail closed: when no enabled device can write a request's entry, the request fails with 500 and
nothing it would have done happens; one working device is enough."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.audit.broker import AuditFailed
from engine.errors import NotFound
from engine.request import Op
from tests.engine.audit_harness import AuditWorld, logged, world_fixture  # noqa: F401 (fixture)


def _break(directory: Path) -> None:
    """The device's directory becomes a plain file: reopening its log fails (even as root)."""
    shutil.rmtree(directory)
    directory.write_text("in the way")


def _repair(directory: Path) -> None:
    directory.unlink()
    directory.mkdir()


async def test_failing_device_blocks_the_request(world: AuditWorld, tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    await world.enable_file("file", directory / "audit.log")
    await world.call(Op.UPDATE, "secret/kept", {"value": "before"})
    _break(directory)
    await world.core.audit_reopen()

    err = await world.error(Op.UPDATE, "secret/app", {"value": "never-stored"})
    assert isinstance(err, AuditFailed) and err.status == 500 and err.message == "failed to log request"
    err = await world.error(Op.DELETE, "secret/kept")
    assert isinstance(err, AuditFailed)
    created = await world.error(Op.UPDATE, "auth/token/create", {"policies": ["default"]})
    assert isinstance(created, AuditFailed)

    _repair(directory)
    missing = await world.error(Op.READ, "secret/app")
    assert isinstance(missing, NotFound)  # the write never happened
    kept = await world.call(Op.READ, "secret/kept")
    assert kept.data == {"value": "before"}  # nor the delete
    # The repaired log starts over with a chain-start and holds no trace of the refused requests.
    paths = [e["request"]["path"] for e in logged(directory / "audit.log")]
    assert paths == ["secret/app", "secret/app", "secret/kept", "secret/kept"]


async def test_one_working_device_is_enough(world: AuditWorld, tmp_path: Path) -> None:
    broken, working = tmp_path / "broken", tmp_path / "working"
    await world.enable_file("broken", broken / "audit.log")
    await world.enable_file("working", working / "audit.log")
    _break(broken)
    await world.core.audit_reopen()
    await world.call(Op.UPDATE, "secret/app", {"value": "stored"})
    assert (await world.call(Op.READ, "secret/app")).data == {"value": "stored"}
    assert any(e["request"]["path"] == "secret/app" for e in logged(working / "audit.log"))
