"""hash/, random/, export/, backup/ and restore/ through Core.handle, with their error cases."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from engine.request import Op
from tests.engine.transit_harness import Transit, b64, start_transit, stop_transit, unb64


@pytest.fixture
async def transit() -> AsyncIterator[Transit]:
    engine = await start_transit()
    yield engine
    await stop_transit(engine)


# --- hash --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "function"),
    [
        ("sha2-224", hashlib.sha224),
        ("sha2-256", hashlib.sha256),
        ("sha2-384", hashlib.sha384),
        ("sha2-512", hashlib.sha512),
        ("sha3-224", hashlib.sha3_224),
        ("sha3-256", hashlib.sha3_256),
        ("sha3-384", hashlib.sha3_384),
        ("sha3-512", hashlib.sha3_512),
    ],
)
async def test_hash_algorithms(transit: Transit, algorithm: str, function: object) -> None:
    expected = function(b"input data").digest()  # type: ignore[operator]
    assert (await transit.write(f"hash/{algorithm}", input=b64("input data")))["sum"] == expected.hex()
    by_body = await transit.write("hash", input=b64("input data"), algorithm=algorithm, format="base64")
    assert unb64(by_body["sum"]) == expected


async def test_hash_defaults_to_sha2_256_hex(transit: Transit) -> None:
    assert (await transit.write("hash", input=b64("")))["sum"] == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("hash", {}, "input missing"),
        ("hash", {"input": "%"}, "unable to decode input as base64: illegal base64 data at input byte 0"),
        ("hash", {"input": "", "format": "bin"}, 'unsupported encoding format bin; must be "hex" or "base64"'),
        ("hash/md5", {"input": ""}, "unsupported algorithm md5"),
        ("hash/sha1", {"input": ""}, "unsupported algorithm sha1"),
    ],
)
async def test_hash_errors(transit: Transit, path: str, body: dict[str, object], message: str) -> None:
    assert await transit.fails(path, **body) == message


# --- random ------------------------------------------------------------------------------------------


async def test_random_bytes(transit: Transit) -> None:
    default = unb64((await transit.write("random"))["random_bytes"])
    assert len(default) == 32
    assert default != unb64((await transit.write("random"))["random_bytes"])
    assert len(bytes.fromhex((await transit.write("random/7", format="hex"))["random_bytes"])) == 7
    assert len(unb64((await transit.write("random", bytes=100))["random_bytes"])) == 100
    assert len(unb64((await transit.write("random/platform/16"))["random_bytes"])) == 16
    assert len(unb64((await transit.write("random/all", bytes=5))["random_bytes"])) == 5


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("random", {"bytes": 0}, '"bytes" cannot be less than 1'),
        ("random/131073", {}, '"bytes" should be less than 131072'),
        ("random", {"format": "bin"}, 'unsupported encoding format "bin"; must be "hex" or "base64"'),
        ("random/dice/4", {}, 'unsupported entropy source "dice"; must be "platform" or "seal", or "all"'),
        ("random/seal/x", {}, 'error parsing url-set byte count: strconv.Atoi: parsing "x": invalid syntax'),
        # Found by fuzzing: the URL's fields sent in the body as non-strings (was a 500).
        ("random", {"urlbytes": 1.5}, 'error parsing url-set byte count: strconv.Atoi: parsing "1.5": invalid syntax'),
    ],
)
async def test_random_errors(transit: Transit, path: str, body: dict[str, object], message: str) -> None:
    assert await transit.fails(path, **body) == message


# --- export ------------------------------------------------------------------------------------------


async def test_export_needs_exportable(transit: Transit) -> None:
    await transit.write("keys/k")
    error = await transit.error(Op.READ, "export/encryption-key/k")
    assert (error.status, error.message) == (400, "private key material is not exportable")
    await transit.write("keys/k/config", exportable=True)
    keys = (await transit.read("export/encryption-key/k"))["keys"]
    assert list(keys) == ["1"] and len(unb64(keys["1"])) == 32


async def test_export_versions(transit: Transit) -> None:
    await transit.write("keys/k", exportable=True)
    for _ in range(2):
        await transit.write("keys/k/rotate")
    everything = (await transit.read("export/hmac-key/k"))["keys"]
    assert sorted(everything) == ["1", "2", "3"] and len(set(everything.values())) == 3
    assert (await transit.read("export/hmac-key/k/latest"))["keys"] == {"3": everything["3"]}
    assert (await transit.read("export/hmac-key/k/v2"))["keys"] == {"2": everything["2"]}
    await transit.write("keys/k/config", min_decryption_version=2)
    assert sorted((await transit.read("export/hmac-key/k"))["keys"]) == ["2", "3"]
    below = await transit.error(Op.READ, "export/hmac-key/k/1")
    assert below.message == "version for export is below minimum decryption version"
    assert (await transit.error(Op.READ, "export/hmac-key/k/9")).message == "version does not exist or cannot be found"
    assert (await transit.error(Op.READ, "export/hmac-key/k/x")).message == "invalid key version"


async def test_export_type_checks(transit: Transit) -> None:
    await transit.write("keys/k", exportable=True)
    await transit.write("keys/e", type="ed25519", exportable=True)
    assert (await transit.error(Op.READ, "export/signing-key/k")).message == "signing not supported for the key"
    assert (await transit.error(Op.READ, "export/encryption-key/e")).message == "encryption not supported for the key"
    assert (await transit.error(Op.READ, "export/secret-key/k")).message == "invalid export type: secret-key"
    assert (await transit.error(Op.READ, "export/public-key/k")).message == (
        "unknown key type aes256-gcm96 for export type public-key"
    )
    assert (await transit.error(Op.READ, "export/encryption-key/nope")).status == 404


async def test_public_keys_export_without_exportable(transit: Transit) -> None:
    await transit.write("keys/ec", type="ecdsa-p256")
    public = (await transit.read("export/public-key/ec"))["keys"]["1"]
    assert public.startswith("-----BEGIN PUBLIC KEY-----") and public.endswith("-----END PUBLIC KEY-----")
    assert (await transit.error(Op.READ, "export/signing-key/ec")).message == "private key material is not exportable"


# --- backup and restore ------------------------------------------------------------------------------


async def test_backup_needs_exportable_and_plaintext_backup(transit: Transit) -> None:
    await transit.write("keys/k")
    assert (await transit.error(Op.READ, "backup/k")).message == "exporting is disallowed on the policy"
    await transit.write("keys/k/config", exportable=True)
    assert (await transit.error(Op.READ, "backup/k")).message == "plaintext backup is disallowed on the policy"
    await transit.write("keys/k/config", allow_plaintext_backup=True)
    assert (await transit.read("backup/k"))["backup"]
    assert (await transit.error(Op.READ, "backup/nope")).message == 'key "nope" not found'


async def test_restore_refuses_an_existing_key_unless_forced(transit: Transit) -> None:
    await transit.write("keys/k", exportable=True, allow_plaintext_backup=True)
    before = await transit.encrypt("k", b"before")
    backup = (await transit.read("backup/k"))["backup"]
    await transit.write("keys/k/rotate")
    after = await transit.encrypt("k", b"after")
    assert await transit.fails("restore", backup=backup) == 'key "k" already exists'
    await transit.write("restore", backup=backup, force=True)
    assert (await transit.read("keys/k"))["latest_version"] == 1
    assert await transit.decrypt("k", before) == b"before"
    assert await transit.fails("decrypt/k", ciphertext=after) == "invalid ciphertext: version is too new"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("restore", {}, "'backup' must be supplied"),
        ("restore", {"backup": "%%%"}, "illegal base64 data at input byte 0"),
        ("restore", {"backup": b64("[1]")}, "backup data does not contain a valid policy"),
        ("restore", {"backup": b64('{"archived_keys": {}}')}, "backup data does not contain a valid policy"),
        ("restore/a/b", {"backup": b64("{}")}, "key names cannot be paths"),
    ],
)
async def test_restore_errors(transit: Transit, path: str, body: dict[str, object], message: str) -> None:
    assert await transit.fails(path, **body) == message
