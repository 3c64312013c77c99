"""What one request and one response line say: Vault's layout, every sensitive value hashed with the
device's salt, and nothing in clear unless log_raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import engine.audit.entry as entry_module
from engine.errors import PermissionDenied
from engine.request import Op, Request
from tests.engine.audit_harness import AuditWorld, logged, world_fixture  # noqa: F401 (fixture)

HASHED = re.compile(r"hmac-sha256:[0-9a-f]{64}")
SECRET = "s3cret-value-for-audit"


async def _hash(world: AuditWorld, device: str, value: str) -> str:
    response = await world.call(Op.UPDATE, f"sys/audit-hash/{device}", {"input": value})
    assert response.data is not None
    return str(response.data["hash"])


async def test_request_and_response_lines(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log)
    await world.call(Op.UPDATE, "secret/app", {"password": SECRET, "nested": {"list": [SECRET, 7]}})
    read = await world.call(Op.READ, "secret/app")
    assert read.data is not None and read.data["password"] == SECRET

    lines = logged(log)
    write_req, write_resp, read_req, read_resp = lines[-4:]
    assert read_req["request"]["operation"] == "read"
    hashed = await _hash(world, "file", SECRET)
    root_hash = await _hash(world, "file", world.root)

    assert write_req["type"] == "request" and write_resp["type"] == "response"
    # Members in name order, as Vault's RequestEntry/ResponseEntry structs marshal them (and in the chain's
    # canonical order, so the line as written is the form its MAC covers).
    assert list(write_req) == ["auth", "request", "sealer_chain", "time", "type"]
    assert list(write_resp) == ["auth", "request", "response", "sealer_chain", "time", "type"]
    assert list(write_req["sealer_chain"]) == ["mac", "prev", "seq"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", write_req["time"])
    request = write_req["request"]
    assert request["operation"] == "create" and request["path"] == "secret/app"
    assert request["mount_type"] == "kv" and request["namespace"] == {"id": "root"}
    assert request["client_token"] == root_hash and request["remote_address"] == "127.0.0.1"
    assert request["data"] == {"password": hashed, "nested": {"list": [hashed, 7]}}
    assert HASHED.fullmatch(request["client_token_accessor"])
    assert request["id"] == write_resp["request"]["id"]
    auth = write_req["auth"]
    assert auth["client_token"] == root_hash and HASHED.fullmatch(auth["accessor"])
    assert auth["policies"] == ["root"] and auth["token_type"] == "service"

    assert read_resp["response"]["data"] == {"password": hashed, "nested": {"list": [hashed, 7]}}
    assert read_resp["response"]["mount_type"] == "kv"
    text = log.read_text()
    assert SECRET not in text and world.root not in text


async def test_token_creation_and_wrapping_hide_the_new_tokens(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log)
    created = await world.call(Op.UPDATE, "auth/token/create", {"policies": ["default"]})
    assert created.auth is not None
    token, accessor = created.auth["client_token"], created.auth["accessor"]
    req = Request(Op.UPDATE, "sys/wrapping/wrap", {"password": SECRET}, client_token=world.root, wrap_ttl=60)
    wrapped = await world.core.handle(req)
    assert wrapped.wrap_info is not None
    unwrapped = await world.call(Op.UPDATE, "sys/wrapping/unwrap", token=wrapped.wrap_info.token)

    response = logged(log)[1]["response"]
    assert response["auth"]["client_token"] == await _hash(world, "file", token)
    assert response["auth"]["accessor"] == await _hash(world, "file", accessor)
    text = log.read_text()
    for clear in (token, accessor, wrapped.wrap_info.token, SECRET, world.root):
        assert clear not in text
    assert unwrapped is not None
    wrap_response = next(e for e in logged(log) if e["type"] == "response" and "wrap_info" in e["response"])
    assert wrap_response["response"]["wrap_info"]["token"] == await _hash(world, "file", wrapped.wrap_info.token)


async def test_denied_requests_are_logged_with_their_error(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log)
    err = await world.error(Op.READ, "secret/app", token="not-a-token")
    assert isinstance(err, PermissionDenied)
    request, response = logged(log)[-2:]
    assert request["error"] == "permission denied" and response["error"] == "permission denied"
    assert request["request"]["path"] == "secret/app"
    assert "not-a-token" not in log.read_text()


async def test_log_raw_and_hmac_accessor(world: AuditWorld, tmp_path: Path) -> None:
    raw, plain_accessor = tmp_path / "raw.log", tmp_path / "acc.log"
    await world.enable_file("raw", raw, log_raw="true")
    await world.enable_file("acc", plain_accessor, hmac_accessor="false")
    await world.call(Op.UPDATE, "secret/app", {"password": SECRET})
    raw_req = next(e for e in logged(raw) if e["request"]["path"] == "secret/app")
    assert raw_req["request"]["data"] == {"password": SECRET}
    assert raw_req["request"]["client_token"] == world.root
    acc_req = next(e for e in logged(plain_accessor) if e["request"]["path"] == "secret/app")
    accessor = acc_req["auth"]["accessor"]
    assert accessor and not HASHED.fullmatch(accessor)
    assert acc_req["request"]["data"] == {"password": await _hash(world, "acc", SECRET)}
    # Each device has its own salt.
    assert await _hash(world, "acc", SECRET) != await _hash(world, "raw", SECRET)


async def test_prefix_is_prepended(world: AuditWorld, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    await world.enable_file("file", log, prefix="@cee: ")
    await world.call(Op.READ, "sys/mounts")
    lines = log.read_bytes().splitlines()
    assert len(lines) == 3 and all(line.startswith(b"@cee: {") for line in lines)


async def test_no_device_means_no_logging(world: AuditWorld, tmp_path: Path) -> None:
    await world.call(Op.UPDATE, "secret/app", {"password": SECRET})
    assert world.core._serving is not None and not world.core._serving.audit.enabled
    assert list(tmp_path.iterdir()) == []


async def test_remembered_token_hashes_are_each_devices_own(
    world: AuditWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device remembers the HMACs of the tokens it sees; two devices (two salts) never share one, and a
    token seen again after the memory filled up and started over still hashes right."""
    monkeypatch.setattr(entry_module, "KNOWN_TOKENS", 2)
    await world.enable_file("one", tmp_path / "one.log")
    await world.enable_file("two", tmp_path / "two.log")
    others = []
    for _ in range(3):
        created = await world.call(Op.UPDATE, "auth/token/create", {"policies": ["default"]})
        assert created.auth is not None
        others.append(created.auth["client_token"])
    for token in [*others, world.root]:
        await world.call(Op.READ, "auth/token/lookup-self", token=token)
    for device in ("one", "two"):
        root_hash = await _hash(world, device, world.root)
        lines = [
            e for e in logged(tmp_path / f"{device}.log")
            if e["request"]["path"] == "auth/token/lookup-self" and e["type"] == "request"
        ]
        expected = [await _hash(world, device, token) for token in others] + [root_hash]
        assert [e["request"]["client_token"] for e in lines] == expected
        assert lines[-1]["auth"]["client_token"] == root_hash
    assert await _hash(world, "one", world.root) != await _hash(world, "two", world.root)
