"""sys/audit, sys/audit-hash and the verification key: Vault's shapes and errors."""

from __future__ import annotations

import base64
from pathlib import Path

from engine.audit.verify import verify_lines
from engine.errors import BadRequest, PermissionDenied
from engine.request import Op
from tests.engine.audit_harness import AuditWorld, entries, world_fixture  # noqa: F401 (fixture)


async def test_enable_list_disable(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.call(
        Op.UPDATE, "sys/audit/file", {"type": "file", "description": "main", "options": {"file_path": str(log)}}
    )
    listing = (await world.call(Op.READ, "sys/audit")).data
    assert listing == {
        "file/": {"type": "file", "description": "main", "options": {"file_path": str(log)}, "local": False,
                  "path": "file/"},
    }
    assert log.stat().st_mode & 0o777 == 0o600
    assert entries(log)[0]["type"] == "chain-start"

    err = await world.error(Op.UPDATE, "sys/audit/file", {"type": "file", "options": {"file_path": str(log)}})
    assert isinstance(err, BadRequest) and err.message == "path already in use"

    await world.call(Op.DELETE, "sys/audit/file")
    assert (await world.call(Op.READ, "sys/audit")).data == {}
    before = log.read_bytes()
    await world.call(Op.READ, "sys/mounts")
    assert log.read_bytes() == before  # a disabled device gets nothing more


async def test_enable_refuses_bad_devices(world: AuditWorld, tmp_path: Path) -> None:
    cases = [
        ({"type": "nope", "options": {}}, 'unknown backend type: "nope"'),
        ({"type": "file", "options": {}}, "file_path is required"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "a"), "format": "jsonx"}}, "format"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "a"), "log_raw": "maybe"}}, "log_raw"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "a"), "mode": "rw"}}, "mode"),
        # A device that cannot write is not enabled (Vault's sanity check).
        ({"type": "file", "options": {"file_path": "/dev/full"}}, "sanity check failed"),
    ]
    for body, expected in cases:
        err = await world.error(Op.UPDATE, "sys/audit/bad", body)
        assert isinstance(err, BadRequest) and expected in err.message, (body, err.message)
    assert (await world.call(Op.READ, "sys/audit")).data == {}


async def test_legacy_path_option_and_mode(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "sub" / "legacy.log"
    await world.call(Op.UPDATE, "sys/audit/legacy", {"type": "file", "options": {"path": str(log), "mode": "0640"}})
    await world.call(Op.READ, "sys/mounts")
    assert [e["type"] for e in entries(log)] == ["chain-start", "request", "response"]
    assert log.stat().st_mode & 0o777 == 0o640


async def test_audit_hash_matches_the_log(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log)
    await world.call(Op.UPDATE, "secret/app", {"password": "pw-clear-value-1"})
    hashed = (await world.call(Op.UPDATE, "sys/audit-hash/file", {"input": "pw-clear-value-1"})).data
    assert hashed is not None and hashed["hash"].startswith("hmac-sha256:")
    request = next(e for e in entries(log) if e["type"] == "request" and e["request"]["path"] == "secret/app")
    assert request["request"]["data"] == {"password": hashed["hash"]}

    err = await world.error(Op.UPDATE, "sys/audit-hash/other", {"input": "x"})
    assert isinstance(err, BadRequest) and err.message == "unknown audit backend other"
    err = await world.error(Op.UPDATE, "sys/audit-hash/file", {"input": ""})
    assert isinstance(err, BadRequest) and err.message == 'the "input" parameter is empty'


async def test_verification_key_needs_sudo(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log)
    response = await world.call(Op.READ, "sys/audit/file/verification-key")
    assert response.data is not None and set(response.data) >= {"key", "path", "type"}
    key = base64.b64decode(response.data["key"])
    assert len(key) == 32 and response.data["path"] == "file/" and response.data["type"] == "file"
    # The key is the one the lines are chained with.
    assert verify_lines(log.read_bytes().splitlines(), key).ok
    assert not verify_lines(log.read_bytes().splitlines(), bytes(32)).ok

    await world.call(Op.UPDATE, "sys/policies/acl/reader", {"policy": 'path "sys/audit/*" { capabilities = ["read"] }'})
    token = (await world.call(Op.UPDATE, "auth/token/create", {"policies": ["reader"]})).auth
    assert token is not None
    err = await world.error(Op.READ, "sys/audit/file/verification-key", token=token["client_token"])
    assert isinstance(err, PermissionDenied)
