"""Compatibility with Vault's formats, checked against what Vault does rather than against this engine:
ciphertexts built by hand from a known key exactly as Vault's keysutil builds them ("vault:v<N>:" +
base64(nonce || ciphertext || tag)), Vault's backup JSON restored, keys derived with Vault's KDFs, and
exported keys checked with standard tools. The hand-built parts use `cryptography` directly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.request import Op
from tests.engine.transit_harness import Transit, b64, start_transit, stop_transit, unb64

KEY = base64.b64decode("W+y8gGN0wbL2K9Oy5qO7YZ0kcw3/GFb5c8I0svSL2qM=")
HMAC_KEY = base64.b64decode("P0Sr8ua2ZdDMQ7OwhxDjugE9wBRGt6Ayz+KxO3ygc9I=")
NONCE = bytes.fromhex("000102030405060708090a0b")


def vault_entry(key: bytes | None, hmac_key: bytes | None, time: str, created: int) -> dict[str, Any]:
    return {
        "key": None if key is None else base64.b64encode(key).decode(),
        "hmac_key": None if hmac_key is None else base64.b64encode(hmac_key).decode(),
        "time": time,
        "ec_x": None,
        "ec_y": None,
        "ec_d": None,
        "rsa_key": None,
        "public_key": "",
        "creation_time": created,
    }


def vault_backup(name: str = "aes", key_type: int = 0, **policy: Any) -> str:
    """A backup as Vault 0.9 wrote it (the sample of Vault's API documentation, with a valid HMAC key)."""
    entry = vault_entry(KEY, HMAC_KEY, "2017-12-08T11:50:08.613837-05:00", 1512751808)
    body = {
        "policy": {
            "name": name,
            "keys": {"1": entry},
            "derived": False,
            "kdf": 0,
            "convergent_encryption": False,
            "exportable": False,
            "min_decryption_version": 1,
            "min_encryption_version": 0,
            "latest_version": 1,
            "archive_version": 1,
            "deletion_allowed": False,
            "convergent_version": 0,
            "type": key_type,
            "backup_info": {"time": "2017-12-08T11:50:29.228157-05:00", "version": 1},
            "restore_info": None,
            **policy,
        },
        "archived_keys": {"keys": [vault_entry(None, None, "0001-01-01T00:00:00Z", 0), entry]},
    }
    return base64.b64encode((json.dumps(body) + "\n").encode()).decode()


def vault_ciphertext(version: int, sealed: bytes) -> str:
    return f"vault:v{version}:{base64.b64encode(sealed).decode()}"


@pytest.fixture
async def transit() -> AsyncIterator[Transit]:
    engine = await start_transit()
    yield engine
    await stop_transit(engine)


async def test_restores_a_vault_backup_and_decrypts_a_hand_built_ciphertext(transit: Transit) -> None:
    assert (await transit.call(Op.UPDATE, "restore", {"backup": vault_backup()})).data is None
    info = await transit.read("keys/aes")
    assert (info["type"], info["latest_version"], info["keys"]) == ("aes256-gcm96", 1, {"1": 1512751808})
    assert info["backup_info"] == {"time": "2017-12-08T11:50:29.228157-05:00", "version": 1}
    assert info["restore_info"]["version"] == 1

    # Vault's SymmetricEncryptRaw: nonce || Seal(nonce, plaintext, no associated data).
    ciphertext = vault_ciphertext(1, NONCE + AESGCM(KEY).encrypt(NONCE, b"made by hand", None))
    assert await transit.decrypt("aes", ciphertext) == b"made by hand"
    # And the other way: what the engine makes opens with the key alone.
    made = await transit.encrypt("aes", b"made by the engine")
    assert made.startswith("vault:v1:")
    blob = base64.b64decode(made.removeprefix("vault:v1:"))
    assert AESGCM(KEY).decrypt(blob[:12], blob[12:], None) == b"made by the engine"


async def test_hand_built_ciphertext_with_associated_data(transit: Transit) -> None:
    await transit.call(Op.UPDATE, "restore", {"backup": vault_backup()})
    ciphertext = vault_ciphertext(1, NONCE + AESGCM(KEY).encrypt(NONCE, b"bound", b"row-7"))
    assert await transit.decrypt("aes", ciphertext, associated_data=b64("row-7")) == b"bound"
    assert await transit.fails("decrypt/aes", ciphertext=ciphertext) == "cipher: message authentication failed"


async def test_chacha20_poly1305_ciphertext_by_hand(transit: Transit) -> None:
    await transit.call(Op.UPDATE, "restore/chacha", {"backup": vault_backup(key_type=5)})
    assert (await transit.read("keys/chacha"))["type"] == "chacha20-poly1305"
    ciphertext = vault_ciphertext(1, NONCE + ChaCha20Poly1305(KEY).encrypt(NONCE, b"stream", None))
    assert await transit.decrypt("chacha", ciphertext) == b"stream"


async def test_hmac_matches_vaults_definition(transit: Transit) -> None:
    await transit.call(Op.UPDATE, "restore", {"backup": vault_backup()})
    mac = (await transit.write("hmac/aes", input=b64("data")))["hmac"]
    expected = base64.b64encode(hmac.digest(HMAC_KEY, b"data", hashlib.sha256)).decode()
    assert mac == f"vault:v1:{expected}"


async def test_derived_key_with_hkdf(transit: Transit) -> None:
    await transit.call(Op.UPDATE, "restore/derived", {"backup": vault_backup(derived=True, kdf=1)})
    context = b"tenant-42"
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(KEY)
    ciphertext = vault_ciphertext(1, NONCE + AESGCM(derived).encrypt(NONCE, b"tenant data", None))
    assert await transit.decrypt("derived", ciphertext, context=b64(context)) == b"tenant data"
    assert (await transit.read("keys/derived"))["kdf"] == "hkdf_sha256"


async def test_derived_key_with_the_old_counter_mode_kdf(transit: Transit) -> None:
    await transit.call(Op.UPDATE, "restore/old", {"backup": vault_backup(derived=True, kdf=0)})
    context = b"ctx"
    # NIST SP 800-108 counter mode, HMAC-SHA256, counter from 0, 256 bits: one round.
    derived = hmac.digest(KEY, (0).to_bytes(4, "big") + context + (256).to_bytes(4, "big"), hashlib.sha256)
    ciphertext = vault_ciphertext(1, NONCE + AESGCM(derived).encrypt(NONCE, b"old style", None))
    assert await transit.decrypt("old", ciphertext, context=b64(context)) == b"old style"
    assert (await transit.read("keys/old"))["kdf"] == "hmac-sha256-counter"


async def test_convergent_version_3_ciphertext_is_exactly_vaults(transit: Transit) -> None:
    backup = vault_backup(derived=True, kdf=1, convergent_encryption=True, convergent_version=-1)
    raw = json.loads(base64.b64decode(backup))
    raw["policy"]["keys"]["1"]["convergent_version"] = 3
    await transit.call(Op.UPDATE, "restore/conv", {"backup": base64.b64encode(json.dumps(raw).encode()).decode()})
    context, plaintext = b"ctx", b"deterministic"
    material = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=context).derive(KEY)
    nonce = hmac.digest(material[32:], plaintext, hashlib.sha256)[:12]
    expected = vault_ciphertext(1, nonce + AESGCM(material[:32]).encrypt(nonce, plaintext, None))
    assert await transit.encrypt("conv", plaintext, context=b64(context)) == expected


async def test_the_engines_backup_is_vaults_key_data(transit: Transit) -> None:
    await transit.write("keys/k", exportable=True, allow_plaintext_backup=True)
    await transit.write("keys/k/rotate")
    old = await transit.encrypt("k", b"kept")
    backup = (await transit.read("backup/k"))["backup"]
    raw = json.loads(base64.b64decode(backup))
    assert set(raw) == {"policy", "archived_keys"}
    policy = raw["policy"]
    assert (policy["name"], policy["type"], policy["latest_version"], sorted(policy["keys"])) == ("k", 0, 2, ["1", "2"])
    assert policy["backup_info"]["version"] == 2
    archived = raw["archived_keys"]["keys"]
    assert len(archived) == 3 and archived[0]["key"] is None and archived[0]["time"] == "0001-01-01T00:00:00Z"
    assert archived[2]["key"] == policy["keys"]["2"]["key"]
    await transit.call(Op.UPDATE, "restore/copy", {"backup": backup})
    assert await transit.decrypt("copy", old) == b"kept"


async def test_exported_ed25519_key_verifies_with_standard_tools(transit: Transit) -> None:
    await transit.write("keys/ed", type="ed25519", exportable=True)
    signature = (await transit.write("sign/ed", input=b64("msg")))["signature"]
    private = unb64((await transit.read("export/signing-key/ed/1"))["keys"]["1"])
    assert len(private) == 64  # Go's form: seed || public key
    Ed25519PublicKey.from_public_bytes(private[32:]).verify(unb64(signature.split(":")[2]), b"msg")
    public = (await transit.read("export/public-key/ed/1"))["keys"]["1"]
    assert unb64(public) == private[32:]


async def test_exported_ecdsa_key_verifies_with_standard_tools(transit: Transit) -> None:
    await transit.write("keys/ec", type="ecdsa-p256", exportable=True)
    signature = (await transit.write("sign/ec", input=b64("msg")))["signature"]
    pem = (await transit.read("export/signing-key/ec"))["keys"]["1"]
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    key.public_key().verify(unb64(signature.split(":")[2]), b"msg", ec.ECDSA(hashes.SHA256()))
    jws = (await transit.write("sign/ec", input=b64("msg"), marshaling_algorithm="jws"))["signature"]
    raw = base64.urlsafe_b64decode(jws.split(":")[2] + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    key.public_key().verify(encode_dss_signature(r, s), b"msg", ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(unb64(signature.split(":")[2]))[0] > 0


async def test_rsa_keys_work_with_standard_tools(transit: Transit) -> None:
    await transit.write("keys/rsa", type="rsa-2048", exportable=True)
    public_pem = (await transit.read("export/public-key/rsa"))["keys"]["1"]
    public = serialization.load_pem_public_key(public_pem.encode())
    # Vault's RSA encryption is OAEP with SHA-256 and no label.
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ciphertext = vault_ciphertext(1, public.encrypt(b"to the key holder", oaep))  # type: ignore[union-attr]
    assert await transit.decrypt("rsa", ciphertext) == b"to the key holder"
    signature = (await transit.write("sign/rsa", input=b64("msg")))["signature"]
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    public.verify(unb64(signature.split(":")[2]), b"msg", pss, hashes.SHA256())  # type: ignore[union-attr]
    private_pem = (await transit.read("export/encryption-key/rsa/1"))["keys"]["1"]
    assert private_pem.startswith("-----BEGIN RSA PRIVATE KEY-----") and private_pem.endswith("\n")
