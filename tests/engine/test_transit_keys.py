"""Transit key management through Core.handle: keys/ (create, read, list, delete), config, rotate, trim,
automatic rotation, and where keys are kept. Vault's documented parameters and messages."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from engine.request import Op
from engine.storage.view import all_keys
from tests.engine.transit_harness import Transit, b64, start_transit, stop_transit

ALL_TYPES = [
    "aes128-gcm96",
    "aes256-gcm96",
    "chacha20-poly1305",
    "ed25519",
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "rsa-2048",
    "hmac",
]


@pytest.fixture
async def transit() -> AsyncIterator[Transit]:
    engine = await start_transit()
    yield engine
    await stop_transit(engine)


async def test_create_defaults_to_aes256_and_read_shows_vaults_fields(transit: Transit) -> None:
    created = await transit.write("keys/orders")
    assert created["type"] == "aes256-gcm96"
    read = await transit.read("keys/orders")
    assert read == created
    assert {k: read[k] for k in ("name", "latest_version", "min_decryption_version", "min_encryption_version")} == {
        "name": "orders",
        "latest_version": 1,
        "min_decryption_version": 1,
        "min_encryption_version": 0,
    }
    assert read["supports_encryption"] and read["supports_decryption"] and read["supports_derivation"]
    assert not read["supports_signing"]
    assert (read["exportable"], read["deletion_allowed"], read["allow_plaintext_backup"]) == (False, False, False)
    assert read["keys"] == {"1": int(transit.clock.now.timestamp())}
    assert read["auto_rotate_period"] == 0 and read["min_available_version"] == 0


@pytest.mark.parametrize("key_type", ALL_TYPES)
async def test_every_key_type_can_be_created(transit: Transit, key_type: str) -> None:
    data = await transit.write(f"keys/k-{key_type}", type=key_type)
    assert data["type"] == key_type and data["latest_version"] == 1
    signing = key_type.startswith(("ed25519", "ecdsa", "rsa"))
    assert data["supports_signing"] is signing
    assert data["supports_encryption"] is (key_type.startswith(("aes", "chacha", "rsa")))


async def test_asymmetric_keys_show_their_public_keys(transit: Transit) -> None:
    ec = await transit.write("keys/ec", type="ecdsa-p384")
    assert ec["keys"]["1"]["name"] == "P-384"
    assert ec["keys"]["1"]["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert ec["keys"]["1"]["creation_time"] == "2030-01-01T12:00:00Z"
    ed = await transit.write("keys/ed", type="ed25519")
    assert len(ed["keys"]["1"]["public_key"]) == 44  # base64 of 32 bytes
    rsa = await transit.write("keys/rsa", type="rsa-2048")
    assert rsa["keys"]["1"]["name"] == "rsa-2048" and "PUBLIC KEY" in rsa["keys"]["1"]["public_key"]
    hmac = await transit.write("keys/mac", type="hmac")
    assert "keys" not in hmac and hmac["key_size"] == 32  # Vault lists no versions for hmac keys


async def test_derived_ed25519_shows_the_public_key_for_a_context(transit: Transit) -> None:
    await transit.write("keys/ed", type="ed25519", derived=True)
    without = await transit.read("keys/ed")
    assert without["keys"]["1"]["public_key"] == ""
    assert without["kdf"] == "hkdf_sha256" and without["convergent_encryption"] is False
    one = (await transit.call(Op.READ, "keys/ed", {"context": b64("tenant-1")})).data
    two = (await transit.call(Op.READ, "keys/ed", {"context": b64("tenant-2")})).data
    assert one and two and one["keys"]["1"]["public_key"] != two["keys"]["1"]["public_key"] != ""


async def test_creating_an_existing_key_changes_nothing_and_warns(transit: Transit) -> None:
    first = await transit.write("keys/k", type="aes128-gcm96")
    again = await transit.call(Op.UPDATE, "keys/k", {"type": "chacha20-poly1305"})
    assert again.data == first
    assert again.warnings == ["key k already existed"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "des"}, "unknown key type des"),
        ({"type": "aes256-gcm96", "key_size": 64}, "key_size is not valid for algorithm aes256-gcm96"),
        ({"type": "hmac", "key_size": 16}, "invalid key_size 16"),
        ({"type": "hmac", "key_size": 513}, "invalid key_size 513"),
        ({"auto_rotate_period": "30m"}, "auto rotate period must be 0 to disable or at least an hour"),
        ({"convergent_encryption": True}, "convergent encryption requires derivation to be enabled"),
        (
            {"type": "ecdsa-p256", "derived": True},
            "key derivation and convergent encryption not supported for keys of type ecdsa-p256",
        ),
        (
            {"type": "rsa-2048", "derived": True},
            "key derivation and convergent encryption not supported for keys of type rsa-2048",
        ),
        (
            {"type": "ed25519", "derived": True, "convergent_encryption": True},
            "convergent encryption not supported for keys of type ed25519",
        ),
        (
            {"type": "hsm-aes256-gcm96"},
            "key type hsm-aes256-gcm96 keeps its key in a PKCS#11 token, and this server's seal has no token",
        ),
    ],
)
async def test_create_refuses_bad_parameters(transit: Transit, body: dict[str, object], message: str) -> None:
    assert await transit.fails("keys/bad", **body) == message
    assert await transit.error(Op.READ, "keys/bad") is not None  # nothing was made


async def test_hmac_key_size_is_kept(transit: Transit) -> None:
    assert (await transit.write("keys/mac", type="hmac", key_size=64))["key_size"] == 64
    exported = await transit.write("keys/mac/config", exportable=True)
    assert exported["exportable"] is True
    key = (await transit.read("export/hmac-key/mac/1"))["keys"]["1"]
    assert len(b64_decode(key)) == 64


def b64_decode(text: str) -> bytes:
    return base64.b64decode(text)


async def test_list_keys(transit: Transit) -> None:
    assert (await transit.error(Op.LIST, "keys")).status == 404
    for name in ("b", "a", "c"):
        await transit.write(f"keys/{name}")
    assert (await transit.call(Op.LIST, "keys")).data == {"keys": ["a", "b", "c"]}


async def test_read_of_a_missing_key_is_404(transit: Transit) -> None:
    error = await transit.error(Op.READ, "keys/nope")
    assert (error.status, error.message) == (404, "")


async def test_delete_needs_deletion_allowed(transit: Transit) -> None:
    await transit.write("keys/k")
    error = await transit.error(Op.DELETE, "keys/k")
    assert (error.status, error.message) == (400, "error deleting policy k: deletion is not allowed for this key")
    await transit.write("keys/k/config", deletion_allowed=True)
    assert (await transit.call(Op.DELETE, "keys/k")).data is None
    assert (await transit.error(Op.READ, "keys/k")).status == 404
    missing = await transit.error(Op.DELETE, "keys/k")
    assert (missing.status, missing.message) == (400, "error deleting policy k: could not delete key; not found")


async def test_a_deleted_key_can_be_made_again_fresh(transit: Transit) -> None:
    await transit.write("keys/k")
    ciphertext = await transit.encrypt("k", b"old")
    await transit.write("keys/k/config", deletion_allowed=True)
    await transit.call(Op.DELETE, "keys/k")
    await transit.write("keys/k")
    assert await transit.fails("decrypt/k", ciphertext=ciphertext) == "cipher: message authentication failed"


async def test_rotate_adds_a_version_and_returns_the_key(transit: Transit) -> None:
    await transit.write("keys/k")
    transit.clock.advance(60)
    rotated = await transit.write("keys/k/rotate")
    assert rotated["latest_version"] == 2
    assert rotated["keys"] == {"1": int(transit.clock.now.timestamp()) - 60, "2": int(transit.clock.now.timestamp())}
    assert (await transit.encrypt("k", b"x")).startswith("vault:v2:")
    assert await transit.fails("keys/missing/rotate") == "key not found"


async def test_config_min_versions(transit: Transit) -> None:
    await transit.write("keys/k")
    for _ in range(3):
        await transit.write("keys/k/rotate")
    data = await transit.write("keys/k/config", min_decryption_version=2, min_encryption_version=3)
    assert (data["min_decryption_version"], data["min_encryption_version"]) == (2, 3)
    assert (await transit.read("keys/k"))["min_decryption_version"] == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"min_decryption_version": -1}, "min decryption version cannot be negative"),
        ({"min_decryption_version": 5}, "cannot set min decryption version of 5, latest key version is 2"),
        ({"min_encryption_version": -1}, "min encryption version cannot be negative"),
        ({"min_encryption_version": 3}, "cannot set min encryption version of 3, latest key version is 2"),
        (
            {"min_decryption_version": 2, "min_encryption_version": 1},
            "cannot set min encryption/decryption values; min encryption version of 1 must be greater than or "
            "equal to min decryption version of 2",
        ),
        ({"auto_rotate_period": "59m"}, "auto rotate period must be 0 to disable or at least an hour"),
    ],
)
async def test_config_refuses_bad_values(transit: Transit, body: dict[str, object], message: str) -> None:
    await transit.write("keys/k")
    await transit.write("keys/k/rotate")
    assert await transit.fails("keys/k/config", **body) == message
    read = await transit.read("keys/k")
    assert (read["min_decryption_version"], read["min_encryption_version"]) == (1, 0)


async def test_config_of_a_missing_key(transit: Transit) -> None:
    assert await transit.fails("keys/nope/config", deletion_allowed=True) == "no existing key named nope could be found"


async def test_config_zero_min_decryption_is_forced_to_one_with_a_warning(transit: Transit) -> None:
    await transit.write("keys/k")
    response = await transit.call(Op.UPDATE, "keys/k/config", {"min_decryption_version": 0})
    assert response.data and response.data["min_decryption_version"] == 1
    assert response.warnings == ["since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"]


async def test_exportable_and_plaintext_backup_cannot_be_turned_off(transit: Transit) -> None:
    await transit.write("keys/k", exportable=True, allow_plaintext_backup=True)
    data = await transit.write("keys/k/config", exportable=False, allow_plaintext_backup=False)
    assert (data["exportable"], data["allow_plaintext_backup"]) == (True, True)


async def test_trim_removes_old_versions_for_good(transit: Transit) -> None:
    await transit.write("keys/k")
    old = await transit.encrypt("k", b"v1 data")
    for _ in range(3):
        await transit.write("keys/k/rotate")
    await transit.write("keys/k/config", min_decryption_version=3, min_encryption_version=4)
    trimmed = await transit.write("keys/k/trim", min_available_version=3)
    assert trimmed["min_available_version"] == 3 and sorted(trimmed["keys"]) == ["3", "4"]
    stored = await transit.stored_policy("k")
    assert sorted(stored["keys"]) == ["3", "4"]
    # Lowering min_decryption_version again cannot bring version 1 back.
    error = await transit.fails("keys/k/config", min_decryption_version=1)
    assert error == "min decryption version should not be less then min available version"
    assert await transit.fails("decrypt/k", ciphertext=old) == (
        "ciphertext or signature version is disallowed by policy (too old)"
    )


@pytest.mark.parametrize(
    ("setup", "wanted", "message"),
    [
        ({}, 1, "minimum available version cannot be set when minimum encryption version is not set"),
        (
            {"min_encryption_version": 2},
            3,
            "minimum available version cannot be greater than minmum encryption version",  # Vault's spelling
        ),
        (
            {"min_encryption_version": 3, "min_decryption_version": 2},
            3,
            "minimum available version cannot be greater than minimum decryption version",
        ),
        ({"min_encryption_version": 2}, 0, "minimum available version should be positive"),
        # Vault checks "decremented" before "negative": a negative value never gets that far.
        ({"min_encryption_version": 2}, -1, "minimum available version cannot be decremented"),
    ],
)
async def test_trim_checks(transit: Transit, setup: dict[str, int], wanted: int, message: str) -> None:
    await transit.write("keys/k")
    for _ in range(2):
        await transit.write("keys/k/rotate")
    if setup:
        await transit.write("keys/k/config", **setup)
    assert await transit.fails("keys/k/trim", min_available_version=wanted) == message


async def test_trim_cannot_go_back_and_needs_a_version(transit: Transit) -> None:
    await transit.write("keys/k")
    await transit.write("keys/k/rotate")
    await transit.write("keys/k/config", min_decryption_version=2, min_encryption_version=2)
    await transit.write("keys/k/trim", min_available_version=2)
    message = "minimum available version cannot be decremented"
    assert await transit.fails("keys/k/trim", min_available_version=1) == message
    assert await transit.fails("keys/k/trim") == "missing min_available_version"
    assert await transit.fails("keys/nope/trim", min_available_version=1) == "invalid key name"


async def test_automatic_rotation_happens_once_the_period_has_passed(transit: Transit) -> None:
    await transit.write("keys/k", auto_rotate_period="24h")
    assert (await transit.read("keys/k"))["auto_rotate_period"] == 86400
    transit.clock.advance(86399)
    assert (await transit.encrypt("k", b"x")).startswith("vault:v1:")
    transit.clock.advance(1)
    assert (await transit.encrypt("k", b"x")).startswith("vault:v2:")
    assert (await transit.read("keys/k"))["latest_version"] == 2
    # The period counts from the newest version.
    transit.clock.advance(3600)
    assert (await transit.read("keys/k"))["latest_version"] == 2
    await transit.write("keys/k/config", auto_rotate_period=0)
    transit.clock.advance(10 * 86400)
    assert (await transit.read("keys/k"))["latest_version"] == 2


async def test_key_material_is_kept_behind_the_barrier_under_the_mount(transit: Transit) -> None:
    await transit.write("keys/k", exportable=True)
    key = b64_decode((await transit.read("export/encryption-key/k/1"))["keys"]["1"])
    stored = await transit.stored_policy("k")
    assert stored["name"] == "k" and stored["type"] == 0  # Vault's number for aes256-gcm96
    # Nothing of the key is in the physical storage in clear.
    uuid = await transit.mount_uuid()
    physical_keys = await all_keys(transit.physical)
    assert f"logical/{uuid}/policy/k" in physical_keys
    raw_values = [await transit.physical.get(k) or b"" for k in physical_keys]
    assert not any(key in value or b64(key).encode() in value for value in raw_values)
