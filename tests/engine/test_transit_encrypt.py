"""encrypt/, decrypt/, rewrap/ and datakey/ through Core.handle: every symmetric type and RSA, key versions,
derivation and convergent encryption, associated data, batches with per-item errors, and the error
cases (tampered ciphertext, old versions, bad input) answered 400 with Vault's messages."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from engine.request import Op
from tests.engine.transit_harness import Transit, b64, start_transit, stop_transit, unb64

TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"


@pytest.fixture
async def transit() -> AsyncIterator[Transit]:
    engine = await start_transit()
    yield engine
    await stop_transit(engine)


def tamper(ciphertext: str, index: int = -3) -> str:
    head, _, body = ciphertext.rpartition(":")
    raw = bytearray(base64.b64decode(body))
    raw[index] ^= 0x01
    return f"{head}:{base64.b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize("key_type", ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048"])
@pytest.mark.parametrize("plaintext", [b"", b"x", bytes(range(190))])  # 190: RSA-2048 OAEP-SHA256's limit
async def test_round_trip(transit: Transit, key_type: str, plaintext: bytes) -> None:
    await transit.write(f"keys/{key_type}", type=key_type)
    data = await transit.write(f"encrypt/{key_type}", plaintext=b64(plaintext))
    assert data["ciphertext"].startswith("vault:v1:") and data["key_version"] == 1
    assert await transit.decrypt(key_type, data["ciphertext"]) == plaintext


async def test_rsa_refuses_what_oaep_cannot_carry(transit: Transit) -> None:
    await transit.write("keys/r", type="rsa-2048")
    assert await transit.fails("encrypt/r", plaintext=b64(bytes(191))) == (
        "failed to RSA encrypt the plaintext: crypto/rsa: message too long for RSA key size"
    )


async def test_large_plaintexts(transit: Transit) -> None:
    await transit.write("keys/k")
    big = bytes(range(256)) * 4096
    assert await transit.decrypt("k", await transit.encrypt("k", big)) == big


async def test_ciphertexts_differ_and_carry_nonce_and_tag(transit: Transit) -> None:
    await transit.write("keys/k")
    one, two = await transit.encrypt("k", b"same"), await transit.encrypt("k", b"same")
    assert one != two
    assert len(unb64(one.split(":")[2])) == 12 + 4 + 16


@pytest.mark.parametrize(
    ("key_type", "message"),
    [
        ("aes256-gcm96", "cipher: message authentication failed"),
        ("aes128-gcm96", "cipher: message authentication failed"),
        ("chacha20-poly1305", "chacha20poly1305: message authentication failed"),
    ],
)
@pytest.mark.parametrize("index", [0, 11, 12, -16, -1])
async def test_tampered_ciphertext_is_400_with_go_message(
    transit: Transit, key_type: str, message: str, index: int
) -> None:
    await transit.write("keys/k", type=key_type)
    ciphertext = await transit.encrypt("k", b"attack at dawn")
    assert await transit.fails("decrypt/k", ciphertext=tamper(ciphertext, index)) == message


async def test_tampered_rsa_ciphertext_is_400(transit: Transit) -> None:
    await transit.write("keys/r", type="rsa-2048")
    ciphertext = await transit.encrypt("r", b"secret")
    message = await transit.fails("decrypt/r", ciphertext=tamper(ciphertext, 5))
    assert message == "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error"


async def test_a_ciphertext_of_another_key_does_not_decrypt(transit: Transit) -> None:
    await transit.write("keys/a")
    await transit.write("keys/b")
    ciphertext = await transit.encrypt("a", b"for a only")
    assert await transit.fails("decrypt/b", ciphertext=ciphertext) == "cipher: message authentication failed"


@pytest.mark.parametrize(
    ("ciphertext", "message"),
    [
        ("abc", "invalid ciphertext: no prefix"),
        ("vault:v1", "invalid ciphertext: wrong number of fields"),
        ("vault:vX:AAAA", "invalid ciphertext: version number could not be decoded"),
        ("vault:v9:AAAA", "invalid ciphertext: version is too new"),
        ("vault:v1:!!!!", "invalid ciphertext: could not decode base64"),
        ("vault:v1:AAAA", "invalid ciphertext length"),
        ("vault:v1:" + b64(bytes(27)), "cipher: message authentication failed"),
    ],
)
async def test_malformed_ciphertexts(transit: Transit, ciphertext: str, message: str) -> None:
    await transit.write("keys/k")
    assert await transit.fails("decrypt/k", ciphertext=ciphertext) == message


async def test_version_zero_is_version_one(transit: Transit) -> None:
    await transit.write("keys/k")
    ciphertext = await transit.encrypt("k", b"legacy")
    assert await transit.decrypt("k", ciphertext.replace("vault:v1:", "vault:v0:")) == b"legacy"


async def test_rotation_min_decryption_version_and_rewrap(transit: Transit) -> None:
    await transit.write("keys/k")
    v1 = await transit.encrypt("k", b"one")
    await transit.write("keys/k/rotate")
    v2 = await transit.encrypt("k", b"two")
    assert v2.startswith("vault:v2:")
    assert await transit.decrypt("k", v1) == b"one"
    rewrapped = await transit.write("rewrap/k", ciphertext=v1)
    assert rewrapped["ciphertext"].startswith("vault:v2:") and rewrapped["key_version"] == 2
    await transit.write("keys/k/config", min_decryption_version=2)
    assert await transit.fails("decrypt/k", ciphertext=v1) == TOO_OLD
    assert await transit.fails("rewrap/k", ciphertext=v1) == TOO_OLD
    assert await transit.decrypt("k", rewrapped["ciphertext"]) == b"one"


async def test_key_version_for_encryption(transit: Transit) -> None:
    await transit.write("keys/k")
    for _ in range(2):
        await transit.write("keys/k/rotate")
    assert (await transit.write("encrypt/k", plaintext=b64("x"), key_version=2))["ciphertext"].startswith("vault:v2:")
    assert await transit.fails("encrypt/k", plaintext=b64("x"), key_version=4) == (
        "requested version for encryption is higher than the latest key version"
    )
    assert await transit.fails("encrypt/k", plaintext=b64("x"), key_version=-1) == (
        "requested version for encryption is negative"
    )
    await transit.write("keys/k/config", min_encryption_version=3)
    assert await transit.fails("encrypt/k", plaintext=b64("x"), key_version=2) == (
        "requested version for encryption is less than the minimum encryption key version"
    )
    rewrap = await transit.write("rewrap/k", ciphertext=await transit.encrypt("k", b"x"), key_version=3)
    assert rewrap["key_version"] == 3


async def test_encrypt_input_errors(transit: Transit) -> None:
    await transit.write("keys/k")
    assert await transit.fails("encrypt/k") == "missing plaintext to encrypt"
    assert await transit.fails("encrypt/k", plaintext="not base64!") == "illegal base64 data at input byte 3"
    assert await transit.fails("encrypt/k", plaintext="QQ=") == "illegal base64 data at input byte 3"
    assert await transit.fails("decrypt/k") == "missing ciphertext to decrypt"
    assert await transit.fails("encrypt/k", plaintext=b64("x"), nonce=b64(bytes(12))) == (
        "provided nonce not allowed for this key"
    )
    assert await transit.fails("decrypt/nope", ciphertext="vault:v1:AAAA") == "encryption key not found"


async def test_encrypt_creates_a_missing_key_when_allowed_to_create(transit: Transit) -> None:
    response = await transit.call(Op.UPDATE, "encrypt/fresh", {"plaintext": b64("hi"), "type": "chacha20-poly1305"})
    assert response.data and response.data["ciphertext"].startswith("vault:v1:")
    assert (await transit.read("keys/fresh"))["type"] == "chacha20-poly1305"
    # A key that existed is used as it is.
    again = await transit.call(Op.UPDATE, "encrypt/fresh", {"plaintext": b64("hi"), "type": "aes256-gcm96"})
    assert again.warnings == []
    assert (await transit.read("keys/fresh"))["type"] == "chacha20-poly1305"


async def test_encrypt_needs_create_capability_to_make_a_key(transit: Transit) -> None:
    token = await transit.policy_token('path "transit/encrypt/*" { capabilities = ["update"] }')
    error = await transit.error(Op.UPDATE, "encrypt/new", {"plaintext": b64("x")}, token=token)
    assert error.status == 403
    assert (await transit.error(Op.READ, "keys/new")).status == 404
    await transit.write("keys/new")
    data = (await transit.call(Op.UPDATE, "encrypt/new", {"plaintext": b64("x")}, token=token)).data
    assert data and data["ciphertext"].startswith("vault:v1:")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "ecdsa-p256"}, "key type ecdsa-p256 not supported for this operation"),
        ({"type": "nope"}, "unknown key type nope"),
        (
            {"convergent_encryption": True},
            "convergent encryption requires derivation to be enabled, so context is required",
        ),
    ],
)
async def test_upsert_refuses_bad_types(transit: Transit, body: dict[str, object], message: str) -> None:
    assert await transit.fails("encrypt/new", plaintext=b64("x"), **body) == message
    assert (await transit.error(Op.READ, "keys/new")).status == 404


async def test_upsert_with_context_makes_a_derived_key(transit: Transit) -> None:
    ciphertext = (await transit.write("encrypt/d", plaintext=b64("x"), context=b64("ctx")))["ciphertext"]
    assert (await transit.read("keys/d"))["derived"] is True
    assert await transit.decrypt("d", ciphertext, context=b64("ctx")) == b"x"


async def test_derived_keys_need_the_context_they_were_used_with(transit: Transit) -> None:
    await transit.write("keys/d", derived=True)
    ciphertext = await transit.encrypt("d", b"per tenant", context=b64("tenant-1"))
    assert await transit.decrypt("d", ciphertext, context=b64("tenant-1")) == b"per tenant"
    assert await transit.fails("decrypt/d", ciphertext=ciphertext, context=b64("tenant-2")) == (
        "cipher: message authentication failed"
    )
    missing = await transit.fails("decrypt/d", ciphertext=ciphertext)
    assert missing.startswith("missing 'context' for key derivation; the key was created using a derived key")
    assert await transit.fails("encrypt/d", plaintext=b64("x")) == missing


async def test_convergent_encryption_is_deterministic_per_context(transit: Transit) -> None:
    await transit.write("keys/c", derived=True, convergent_encryption=True)
    info = await transit.read("keys/c")
    assert (info["convergent_encryption"], info["convergent_encryption_version"]) == (True, -1)
    one = await transit.encrypt("c", b"same", context=b64("a"))
    assert one == await transit.encrypt("c", b"same", context=b64("a"))
    assert one != await transit.encrypt("c", b"same", context=b64("b"))
    assert one != await transit.encrypt("c", b"other", context=b64("a"))
    assert await transit.decrypt("c", one, context=b64("a")) == b"same"


async def test_associated_data_is_authenticated(transit: Transit) -> None:
    await transit.write("keys/k")
    ciphertext = await transit.encrypt("k", b"bound", associated_data=b64("row 7"))
    assert await transit.decrypt("k", ciphertext, associated_data=b64("row 7")) == b"bound"
    assert await transit.fails("decrypt/k", ciphertext=ciphertext, associated_data=b64("row 8")) == (
        "cipher: message authentication failed"
    )
    assert await transit.fails("decrypt/k", ciphertext=ciphertext) == "cipher: message authentication failed"
    await transit.write("keys/r", type="rsa-2048")
    assert await transit.fails("encrypt/r", plaintext=b64("x"), associated_data=b64("ad")) == (
        "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048"
    )


async def test_signing_keys_do_not_encrypt(transit: Transit) -> None:
    await transit.write("keys/e", type="ed25519")
    assert await transit.fails("encrypt/e", plaintext=b64("x")) == (
        "message encryption not supported for key type ed25519"
    )
    assert await transit.fails("decrypt/e", ciphertext="vault:v1:AAAA") == (
        "message decryption not supported for key type ed25519"
    )


# --- batches -----------------------------------------------------------------------------------------


async def test_batch_encrypt_and_decrypt_keep_order_and_references(transit: Transit) -> None:
    await transit.write("keys/k")
    items = [{"plaintext": b64(f"item {i}"), "reference": f"ref-{i}"} for i in range(5)]
    encrypted = (await transit.write("encrypt/k", batch_input=items))["batch_results"]
    assert [r["reference"] for r in encrypted] == [f"ref-{i}" for i in range(5)]
    assert all(r["key_version"] == 1 and "error" not in r for r in encrypted)
    batch = [{"ciphertext": r["ciphertext"], "reference": r["reference"]} for r in encrypted]
    decrypted = (await transit.write("decrypt/k", batch_input=batch))["batch_results"]
    assert [unb64(r["plaintext"]) for r in decrypted] == [f"item {i}".encode() for i in range(5)]
    assert [r["reference"] for r in decrypted] == [f"ref-{i}" for i in range(5)]


async def test_batch_items_fail_alone_and_the_answer_is_400(transit: Transit) -> None:
    await transit.write("keys/k")
    good = await transit.encrypt("k", b"good")
    batch = [{"ciphertext": good}, {"ciphertext": tamper(good)}, {"ciphertext": ""}]
    response = await transit.call(Op.UPDATE, "decrypt/k", {"batch_input": batch})
    assert response.status == 400
    results = response.data["batch_results"] if response.data else []
    assert results[0] == {"plaintext": b64("good"), "reference": ""}
    assert results[1] == {"plaintext": "", "error": "cipher: message authentication failed", "reference": ""}
    assert results[2]["error"] == "missing ciphertext to decrypt"


async def test_partial_failure_response_code(transit: Transit) -> None:
    await transit.write("keys/k")
    items = [{"plaintext": b64("ok")}, {"plaintext": "%%%"}]
    response = await transit.call(Op.UPDATE, "encrypt/k", {"batch_input": items, "partial_failure_response_code": 207})
    assert response.status == 207
    assert response.data and response.data["batch_results"][1]["error"] == "illegal base64 data at input byte 0"
    # A batch where everything failed stays a 400.
    all_bad = await transit.call(
        Op.UPDATE, "encrypt/k", {"batch_input": [{"plaintext": "%"}], "partial_failure_response_code": 207}
    )
    assert all_bad.status == 400
    # An out-of-range code is ignored with a warning.
    odd = await transit.call(Op.UPDATE, "encrypt/k", {"batch_input": items, "partial_failure_response_code": 999})
    assert odd.status == 400
    assert odd.warnings == ["invalid HTTP response code override from partial_failure_response_code, reverting to 400"]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([], "missing batch input to process"),
        ("nope", "failed to parse batch input: source data must be an array or slice, got string"),
        (["nope"], "failed to parse batch input: [0] expected a map, got 'string'"),
        (
            [{"plaintext": 5}],
            "failed to parse batch input: 1 error(s) decoding:\n\n"
            "* '[0].plaintext' expected type 'string', got unconvertible type 'json.Number'",
        ),
        (
            [{"context": "eA=="}],
            "failed to parse batch input: 1 error(s) decoding:\n\n* '[0].plaintext' missing plaintext to encrypt",
        ),
        (
            [{"plaintext": "eA==", "context": "eA=="}, {"plaintext": "eA=="}],
            "context should be set either in all the request blocks or in none",
        ),
    ],
)
async def test_batch_input_that_does_not_parse(transit: Transit, batch: object, message: str) -> None:
    await transit.write("keys/k")
    assert await transit.fails("encrypt/k", batch_input=batch) == message


async def test_batch_rewrap(transit: Transit) -> None:
    await transit.write("keys/k")
    old = [await transit.encrypt("k", f"{i}".encode()) for i in range(3)]
    await transit.write("keys/k/rotate")
    results = (await transit.write("rewrap/k", batch_input=[{"ciphertext": c} for c in old]))["batch_results"]
    assert all(r["ciphertext"].startswith("vault:v2:") and r["key_version"] == 2 for r in results)
    assert [await transit.decrypt("k", r["ciphertext"]) for r in results] == [b"0", b"1", b"2"]


# --- datakey -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [128, 256, 512])
async def test_datakey_plaintext(transit: Transit, bits: int) -> None:
    await transit.write("keys/k")
    data = await transit.write("datakey/plaintext/k", bits=bits)
    assert len(unb64(data["plaintext"])) == bits // 8 and data["key_version"] == 1
    assert await transit.decrypt("k", data["ciphertext"]) == unb64(data["plaintext"])


async def test_datakey_wrapped_hides_the_plaintext(transit: Transit) -> None:
    await transit.write("keys/k", derived=True)
    data = await transit.write("datakey/wrapped/k", context=b64("ctx"))
    assert set(data) == {"ciphertext", "key_version"}
    assert len(await transit.decrypt("k", data["ciphertext"], context=b64("ctx"))) == 32


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("datakey/other/k", {}, "Invalid path, must be 'plaintext' or 'wrapped'"),
        ("datakey/plaintext/k", {"bits": 64}, "invalid bit length"),
        ("datakey/plaintext/k", {"context": "%"}, "failed to base64-decode context"),
        ("datakey/plaintext/nope", {}, "encryption key not found"),
        ("datakey/plaintext/e", {}, "message encryption not supported for key type ed25519"),
    ],
)
async def test_datakey_errors(transit: Transit, path: str, body: dict[str, object], message: str) -> None:
    await transit.write("keys/k")
    await transit.write("keys/e", type="ed25519")
    assert await transit.fails(path, **body) == message
