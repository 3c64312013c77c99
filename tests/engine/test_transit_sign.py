"""sign/, verify/ and hmac/ through Core.handle: every signing key type, hash algorithms (body and URL),
prehashed input, RSA PSS/PKCS#1 v1.5 and salt lengths, JWS marshaling, derived ed25519 keys, HMACs of
any key, batches, and the version rules (min_encryption_version to make, min_decryption_version to check)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from engine.request import Op
from tests.engine.transit_harness import Transit, b64, start_transit, stop_transit, unb64

TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
MESSAGE = b64("the message")


@pytest.fixture
async def transit() -> AsyncIterator[Transit]:
    engine = await start_transit()
    for key_type in ("ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"):
        await engine.write(f"keys/{key_type}", type=key_type)
    yield engine
    await stop_transit(engine)


async def sign(transit: Transit, key: str, **body: object) -> str:
    return str((await transit.write(f"sign/{key}", **{"input": MESSAGE, **body}))["signature"])


async def verify(transit: Transit, key: str, signature: str, **body: object) -> bool:
    return bool((await transit.write(f"verify/{key}", **{"input": MESSAGE, "signature": signature, **body}))["valid"])


@pytest.mark.parametrize("key", ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"])
async def test_sign_then_verify(transit: Transit, key: str) -> None:
    data = await transit.write(f"sign/{key}", input=MESSAGE)
    assert data["signature"].startswith("vault:v1:") and data["key_version"] == 1
    assert await verify(transit, key, data["signature"])
    assert not (await transit.write(f"verify/{key}", input=b64("other"), signature=data["signature"]))["valid"]


ALGORITHMS = ["sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-256", "sha3-512"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("key", ["ecdsa-p256", "rsa-2048"])
async def test_hash_algorithms_in_body_and_url(transit: Transit, key: str, algorithm: str) -> None:
    by_body = await sign(transit, key, hash_algorithm=algorithm)
    assert await verify(transit, key, by_body, hash_algorithm=algorithm)
    by_url = str((await transit.write(f"sign/{key}/{algorithm}", input=MESSAGE))["signature"])
    assert (await transit.write(f"verify/{key}/{algorithm}", input=MESSAGE, signature=by_url))["valid"]
    if algorithm != "sha2-256":
        assert not await verify(transit, key, by_body)  # checked with the default sha2-256


async def test_prehashed_input(transit: Transit) -> None:
    digest = b64(hashlib.sha256(b"the message").digest())
    for key in ("ecdsa-p256", "rsa-2048"):
        signature = await sign(transit, key, input=digest, prehashed=True)
        assert await verify(transit, key, signature)  # the same as hashing the message here
    assert await transit.fails("sign/rsa-2048", input=b64(b"short"), prehashed=True) == (
        "crypto/rsa: input must be hashed with given hash"
    )


@pytest.mark.parametrize("scheme", ["pss", "pkcs1v15"])
async def test_rsa_signature_algorithms(transit: Transit, scheme: str) -> None:
    signature = await sign(transit, "rsa-2048", signature_algorithm=scheme)
    assert await verify(transit, "rsa-2048", signature, signature_algorithm=scheme)
    other = "pkcs1v15" if scheme == "pss" else "pss"
    assert not await verify(transit, "rsa-2048", signature, signature_algorithm=other)
    assert await transit.fails("sign/rsa-2048", input=MESSAGE, signature_algorithm="raw") == (
        "unsupported rsa signature algorithm raw"
    )


async def test_rsa_pkcs1v15_is_deterministic(transit: Transit) -> None:
    one = await sign(transit, "rsa-2048", signature_algorithm="pkcs1v15")
    assert one == await sign(transit, "rsa-2048", signature_algorithm="pkcs1v15")


@pytest.mark.parametrize("salt", ["auto", "hash", "0", "20", "222"])
async def test_pss_salt_lengths(transit: Transit, salt: str) -> None:
    signature = await sign(transit, "rsa-2048", salt_length=salt)
    assert await verify(transit, "rsa-2048", signature, salt_length=salt)


async def test_pss_salt_length_errors(transit: Transit) -> None:
    message = "requested salt length 223 is invalid"  # 2048-bit key, SHA-256: at most 256 - 2 - 32 = 222
    assert await transit.fails("sign/rsa-2048", input=MESSAGE, salt_length="223") == message
    assert await transit.fails("sign/rsa-2048", input=MESSAGE, salt_length="-2") == "salt length is invalid: -2"
    assert await transit.fails("sign/rsa-2048", input=MESSAGE, salt_length="big") == (
        "salt length neither 'auto', 'hash', nor an int: big"
    )


async def test_jws_marshaling_is_raw_and_url_safe(transit: Transit) -> None:
    signature = await sign(transit, "ecdsa-p256", marshaling_algorithm="jws")
    body = signature.split(":")[2]
    assert "=" not in body and "+" not in body and "/" not in body
    assert len(body) == 86  # 64 bytes r || s, unpadded
    assert await verify(transit, "ecdsa-p256", signature, marshaling_algorithm="jws")
    as_asn1 = await transit.fails("verify/ecdsa-p256", input=MESSAGE, signature=signature)
    assert as_asn1 == "invalid base64 signature value"
    assert await transit.fails("sign/ecdsa-p256", input=MESSAGE, marshaling_algorithm="der") == (
        'invalid marshaling type "der"'
    )


async def test_derived_ed25519_signs_per_context_and_returns_the_public_key(transit: Transit) -> None:
    await transit.write("keys/ded", type="ed25519", derived=True)
    one = await transit.write("sign/ded", input=MESSAGE, context=b64("a"))
    two = await transit.write("sign/ded", input=MESSAGE, context=b64("b"))
    assert one["public_key"] != two["public_key"]
    read = (await transit.call(Op.READ, "keys/ded", {"context": b64("a")})).data
    assert read and b64(unb64(one["public_key"])) == read["keys"]["1"]["public_key"]
    assert await verify(transit, "ded", one["signature"], context=b64("a"))
    assert not await verify(transit, "ded", one["signature"], context=b64("b"))
    message = await transit.fails("sign/ded", input=MESSAGE)
    assert message.startswith("error deriving key: missing 'context' for key derivation")


async def test_signing_version_rules(transit: Transit) -> None:
    first = await sign(transit, "ed25519")
    await transit.write("keys/ed25519/rotate")
    await transit.write("keys/ed25519/rotate")
    assert (await sign(transit, "ed25519")).startswith("vault:v3:")
    assert (await sign(transit, "ed25519", key_version=2)).startswith("vault:v2:")
    assert await verify(transit, "ed25519", first)
    assert await transit.fails("sign/ed25519", input=MESSAGE, key_version=4) == (
        "requested version for signing is higher than the latest key version"
    )
    await transit.write("keys/ed25519/config", min_decryption_version=2, min_encryption_version=3)
    assert await transit.fails("sign/ed25519", input=MESSAGE, key_version=2) == (
        "requested version for signing is less than the minimum encryption key version"
    )
    assert await transit.fails("verify/ed25519", input=MESSAGE, signature=first) == TOO_OLD


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("sig", "invalid signature: no prefix"),
        ("vault:v1", "invalid signature: wrong number of fields"),
        ("vault:vv:AA==", "invalid signature: version number could not be decoded"),
        ("vault:v7:AA==", "invalid signature: version is too new"),
        ("vault:v1:%%", "invalid base64 signature value"),
        ("vault:v1:AAAA", "supplied signature is invalid"),
    ],
)
async def test_verify_malformed_signatures(transit: Transit, signature: str, message: str) -> None:
    assert await transit.fails("verify/ecdsa-p256", input=MESSAGE, signature=signature) == message


async def test_sign_and_verify_errors(transit: Transit) -> None:
    await transit.write("keys/aes")
    assert await transit.fails("sign/aes", input=MESSAGE) == "key type aes256-gcm96 does not support signing"
    assert await transit.fails("verify/aes", input=MESSAGE, signature="vault:v1:AA==") == (
        "key type aes256-gcm96 does not support verification"
    )
    assert await transit.fails("sign/nope", input=MESSAGE) == "encryption key not found"
    assert await transit.fails("sign/ed25519", input=MESSAGE, hash_algorithm="md5") == 'invalid hash algorithm "md5"'
    assert await transit.fails("sign/ed25519", input="%") == (
        "unable to decode input as base64: illegal base64 data at input byte 0"
    )
    assert await transit.fails("verify/ed25519", input=MESSAGE) == (
        "neither a 'signature' nor an 'hmac' were given to verify"
    )
    assert await transit.fails("verify/ed25519", input=MESSAGE, signature="a", hmac="b") == (
        "provide one of 'signature' or 'hmac'"
    )


async def test_batch_sign_and_verify(transit: Transit) -> None:
    items = [{"input": b64(f"m{i}"), "reference": f"r{i}"} for i in range(3)] + [{"reference": "none"}]
    response = await transit.call(Op.UPDATE, "sign/ecdsa-p256", {"batch_input": items})
    assert response.status == 400  # one item failed
    results = response.data["batch_results"] if response.data else []
    assert [r["reference"] for r in results] == ["r0", "r1", "r2", "none"]
    assert results[3] == {"error": "missing input", "reference": "none"}
    checks = [{"input": b64(f"m{i}"), "signature": r["signature"]} for i, r in enumerate(results[:3])]
    checks.append({"input": b64("forged"), "signature": results[0]["signature"], "reference": "x"})
    verified = (await transit.write("verify/ecdsa-p256", batch_input=checks))["batch_results"]
    assert [r["valid"] for r in verified] == [True, True, True, False]
    assert verified[3]["reference"] == "x"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [{"input": MESSAGE, "signature": "s"}, {"input": MESSAGE, "hmac": "h"}],
            "elements of batch_input must all provide 'signature' or all provide 'hmac'",
        ),
        (
            [{"input": MESSAGE, "signature": "s"}, {"input": MESSAGE}],
            "some elements of batch_input are missing 'signature'",
        ),
        ([{"input": MESSAGE, "hmac": "h"}, {"input": MESSAGE}], "some elements of batch_input are missing 'hmac'"),
        ([{"input": MESSAGE}], "no batch_input elements have 'signature' or 'hmac'"),
    ],
)
async def test_verify_batch_must_be_all_signatures_or_all_hmacs(
    transit: Transit, items: list[dict[str, str]], message: str
) -> None:
    assert await transit.fails("verify/ed25519", batch_input=items) == message


# --- HMAC --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["aes256-gcm96", "hmac", "ed25519", "rsa-2048"])
async def test_hmac_with_any_key_type(transit: Transit, key_type: str) -> None:
    await transit.write(f"keys/m-{key_type}", type=key_type)
    mac = (await transit.write(f"hmac/m-{key_type}", input=MESSAGE))["hmac"]
    assert mac.startswith("vault:v1:") and len(unb64(mac.split(":")[2])) == 32
    assert (await transit.write(f"verify/m-{key_type}", input=MESSAGE, hmac=mac))["valid"]
    assert not (await transit.write(f"verify/m-{key_type}", input=b64("x"), hmac=mac))["valid"]


@pytest.mark.parametrize(
    ("algorithm", "size"), [("sha2-224", 28), ("sha2-384", 48), ("sha2-512", 64), ("sha3-256", 32)]
)
async def test_hmac_algorithms(transit: Transit, algorithm: str, size: int) -> None:
    await transit.write("keys/m", type="hmac")
    mac = (await transit.write(f"hmac/m/{algorithm}", input=MESSAGE))["hmac"]
    assert len(unb64(mac.split(":")[2])) == size
    assert mac == (await transit.write("hmac/m", input=MESSAGE, algorithm=algorithm))["hmac"]
    assert (await transit.write(f"verify/m/{algorithm}", input=MESSAGE, hmac=mac))["valid"]
    assert (await transit.write("verify/m", input=MESSAGE, hmac=mac, hash_algorithm=algorithm))["valid"]
    assert not (await transit.write("verify/m", input=MESSAGE, hmac=mac))["valid"]


async def test_hmac_versions(transit: Transit) -> None:
    await transit.write("keys/m", type="hmac")
    first = (await transit.write("hmac/m", input=MESSAGE))["hmac"]
    await transit.write("keys/m/rotate")
    await transit.write("keys/m/rotate")
    second = (await transit.write("hmac/m", input=MESSAGE, key_version=2))["hmac"]
    assert second.startswith("vault:v2:") and second != first
    assert await transit.fails("hmac/m", input=MESSAGE, key_version=9) == (
        "key version does not exist; latest key version is 3"
    )
    await transit.write("keys/m/config", min_decryption_version=2, min_encryption_version=3)
    assert await transit.fails("hmac/m", input=MESSAGE, key_version=2) == (
        "cannot generate HMAC: version is too old (disallowed by policy)"
    )
    assert await transit.fails("verify/m", input=MESSAGE, hmac=first) == (
        "cannot verify HMAC: version is too old (disallowed by policy)"
    )
    assert (await transit.write("verify/m", input=MESSAGE, hmac=second))["valid"]


@pytest.mark.parametrize(
    ("mac", "message"),
    [
        ("abc", "invalid HMAC to verify: no prefix"),
        ("vault:v1", "invalid HMAC: wrong number of fields"),
        ("vault:vz:AA==", "invalid HMAC: version number could not be decoded"),
        ("vault:v1:%", "unable to decode verification HMAC as base64: illegal base64 data at input byte 0"),
        ("vault:v5:AA==", "invalid HMAC: version is too new"),
    ],
)
async def test_verify_malformed_hmacs(transit: Transit, mac: str, message: str) -> None:
    await transit.write("keys/m", type="hmac")
    assert await transit.fails("verify/m", input=MESSAGE, hmac=mac) == message


async def test_hmac_errors(transit: Transit) -> None:
    await transit.write("keys/m", type="hmac")
    assert await transit.fails("hmac/m") == "missing input for HMAC"
    assert await transit.fails("hmac/m", input=MESSAGE, algorithm="md5") == 'unsupported algorithm "md5"'
    assert await transit.fails("hmac/nope", input=MESSAGE) == "encryption key not found"


async def test_batch_hmac_answers_200_with_item_errors(transit: Transit) -> None:
    await transit.write("keys/m", type="hmac")
    items = [{"input": MESSAGE, "reference": "a"}, {"input": "%", "reference": "b"}, {}]
    response = await transit.call(Op.UPDATE, "hmac/m", {"batch_input": items})
    assert response.status is None
    results = response.data["batch_results"] if response.data else []
    assert results[0]["hmac"].startswith("vault:v1:") and results[0]["reference"] == "a"
    assert results[1]["error"] == "unable to decode input as base64: illegal base64 data at input byte 0"
    assert results[2]["error"] == "missing input for HMAC"
    checks = [{"input": MESSAGE, "hmac": results[0]["hmac"]}, {"input": b64("x"), "hmac": results[0]["hmac"]}]
    verified = (await transit.write("verify/m", batch_input=checks))["batch_results"]
    assert [r["valid"] for r in verified] == [True, False]
