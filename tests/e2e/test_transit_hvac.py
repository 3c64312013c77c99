"""Transit through the real hvac client against a running pkcs11-sealed daemon: hvac's
client.secrets.transit calls, and an hsm-aes256-gcm96 key whose material stays in the SoftHSM token."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
from hvac.exceptions import InvalidPath, InvalidRequest
from softhsm import make_token

from tests.e2e.conftest import pkcs11_config, shamir_config
from tests.e2e.daemon import Daemon


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, softhsm: Any) -> Iterator[tuple[Daemon, str]]:
    workdir: Path = tmp_path_factory.mktemp("transit")
    token = make_token(softhsm.directory, f"transit-e2e-{workdir.name}", softhsm.pin, softhsm.so_pin)
    server = Daemon(workdir=workdir, config=pkcs11_config(token, workdir), env={"SOFTHSM2_CONF": str(softhsm.conf)})
    server.start(wait_for="unsealed")
    root = json.loads((workdir / "init.json").read_text())["root_token"]
    hvac.Client(url=server.address, token=root).sys.enable_secrets_engine(backend_type="transit", path="transit")
    yield server, root
    server.kill()


@pytest.fixture
def client(daemon: tuple[Daemon, str]) -> hvac.Client:
    server, root = daemon
    return hvac.Client(url=server.address, token=root)


def test_keys_lifecycle(client: hvac.Client) -> None:
    transit = client.secrets.transit
    transit.create_key(name="orders")
    transit.create_key(name="signer", key_type="ecdsa-p256")
    key = transit.read_key(name="orders")["data"]
    assert (key["type"], key["latest_version"], key["deletion_allowed"]) == ("aes256-gcm96", 1, False)
    assert {"orders", "signer"} <= set(transit.list_keys()["data"]["keys"])
    transit.rotate_key(name="orders")
    assert transit.read_key(name="orders")["data"]["latest_version"] == 2
    transit.update_key_configuration(name="orders", min_decryption_version=2, deletion_allowed=True)
    key = transit.read_key(name="orders")["data"]
    assert (key["min_decryption_version"], key["deletion_allowed"]) == (2, True)
    transit.delete_key(name="orders")
    with pytest.raises(InvalidPath):
        transit.read_key(name="orders")


def test_encrypt_decrypt_rewrap_and_errors(client: hvac.Client) -> None:
    transit = client.secrets.transit
    ciphertext = transit.encrypt_data(name="payments", plaintext=b64(b"4111 1111 1111 1111"))["data"]["ciphertext"]
    assert ciphertext.startswith("vault:v1:")  # the key was made on first use
    decrypted = transit.decrypt_data(name="payments", ciphertext=ciphertext)["data"]["plaintext"]
    assert decrypted == b64(b"4111 1111 1111 1111")
    transit.rotate_key(name="payments")
    rewrapped = transit.rewrap_data(name="payments", ciphertext=ciphertext)["data"]["ciphertext"]
    assert rewrapped.startswith("vault:v2:")
    batch = transit.encrypt_data(name="payments", batch_input=[{"plaintext": b64(b"a")}, {"plaintext": b64(b"b")}])
    assert [r["ciphertext"][:9] for r in batch["data"]["batch_results"]] == ["vault:v2:", "vault:v2:"]
    transit.update_key_configuration(name="payments", min_decryption_version=2)
    with pytest.raises(InvalidRequest, match="disallowed by policy"):
        transit.decrypt_data(name="payments", ciphertext=ciphertext)
    tampered = rewrapped[:-4] + ("AAAA" if rewrapped[-4:] != "AAAA" else "BBBB")
    with pytest.raises(InvalidRequest, match="cipher: message authentication failed"):
        transit.decrypt_data(name="payments", ciphertext=tampered)


def test_data_keys_random_hash_and_hmac(client: hvac.Client) -> None:
    transit = client.secrets.transit
    transit.create_key(name="wrapping")
    data_key = transit.generate_data_key(name="wrapping", key_type="plaintext", bits=512)["data"]
    assert len(base64.b64decode(data_key["plaintext"])) == 64
    opened = transit.decrypt_data(name="wrapping", ciphertext=data_key["ciphertext"])["data"]["plaintext"]
    assert opened == data_key["plaintext"]
    assert "plaintext" not in transit.generate_data_key(name="wrapping", key_type="wrapped")["data"]
    assert len(base64.b64decode(transit.generate_random_bytes(n_bytes=24)["data"]["random_bytes"])) == 24
    digest = transit.hash_data(hash_input=b64(b"abc"), algorithm="sha2-512")["data"]["sum"]
    assert digest == hashlib.sha512(b"abc").hexdigest()
    mac = transit.generate_hmac(name="wrapping", hash_input=b64(b"abc"))["data"]["hmac"]
    assert transit.verify_signed_data(name="wrapping", hash_input=b64(b"abc"), hmac=mac)["data"]["valid"] is True


def test_sign_and_verify(client: hvac.Client) -> None:
    transit = client.secrets.transit
    transit.create_key(name="ed", key_type="ed25519")
    transit.create_key(name="rsa", key_type="rsa-2048")
    release, other = b64(b"release-1.0.tar.gz"), b64(b"release-2.0.tar.gz")
    for name, extra in (("ed", {}), ("rsa", {"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-384"})):
        signature = transit.sign_data(name=name, hash_input=release, **extra)["data"]["signature"]
        valid = transit.verify_signed_data(name=name, hash_input=release, signature=signature, **extra)
        assert valid["data"]["valid"] is True
        forged = transit.verify_signed_data(name=name, hash_input=other, signature=signature, **extra)
        assert forged["data"]["valid"] is False


def test_export_backup_restore_trim(client: hvac.Client) -> None:
    transit = client.secrets.transit
    transit.create_key(name="portable", exportable=True, allow_plaintext_backup=True)
    ciphertext = transit.encrypt_data(name="portable", plaintext=b64(b"keep me"))["data"]["ciphertext"]
    exported = transit.export_key(name="portable", key_type="encryption-key")["data"]["keys"]
    assert len(base64.b64decode(exported["1"])) == 32
    backup = transit.backup_key(name="portable")["data"]["backup"]
    transit.restore_key(backup=backup, name="portable-copy")
    assert transit.decrypt_data(name="portable-copy", ciphertext=ciphertext)["data"]["plaintext"] == b64(b"keep me")
    for _ in range(2):
        transit.rotate_key(name="portable")
    # hvac refuses equal minimums in one call (Vault allows them): two calls.
    transit.update_key_configuration(name="portable", min_encryption_version=3)
    transit.update_key_configuration(name="portable", min_decryption_version=3)
    trimmed = transit.trim_key(name="portable", min_version=3)["data"]
    assert trimmed["min_available_version"] == 3 and sorted(trimmed["keys"]) == ["3"]
    transit.create_key(name="closed")
    with pytest.raises(InvalidRequest, match="private key material is not exportable"):
        transit.export_key(name="closed", key_type="encryption-key")


def test_hsm_key_stays_in_the_token(client: hvac.Client) -> None:
    transit = client.secrets.transit
    # hvac only knows Vault's key types, so the key is made with a plain write.
    created = client.write_data("transit/keys/in-token", data={"type": "hsm-aes256-gcm96"})["data"]
    assert created["type"] == "hsm-aes256-gcm96"
    ciphertext = transit.encrypt_data(name="in-token", plaintext=b64(b"never in memory"))["data"]["ciphertext"]
    assert transit.decrypt_data(name="in-token", ciphertext=ciphertext)["data"]["plaintext"] == b64(b"never in memory")
    transit.rotate_key(name="in-token")
    rewrapped = transit.rewrap_data(name="in-token", ciphertext=ciphertext)["data"]["ciphertext"]
    assert rewrapped.startswith("vault:v2:")
    with pytest.raises(InvalidRequest, match="key material is kept in the PKCS#11 token and cannot be exported"):
        transit.export_key(name="in-token", key_type="encryption-key")
    with pytest.raises(InvalidRequest, match="key material is kept in the PKCS#11 token and cannot be exported"):
        transit.backup_key(name="in-token")
    # Signing in the token.
    client.write_data("transit/keys/token-signer", data={"type": "hsm-ecdsa-p256"})
    signature = transit.sign_data(name="token-signer", hash_input=b64(b"doc"))["data"]["signature"]
    assert transit.verify_signed_data(name="token-signer", hash_input=b64(b"doc"), signature=signature)["data"]["valid"]


def test_hsm_keys_survive_a_restart(daemon: tuple[Daemon, str]) -> None:
    server, root = daemon
    client = hvac.Client(url=server.address, token=root)
    client.write_data("transit/keys/durable", data={"type": "hsm-aes256-gcm96"})
    ciphertext = client.secrets.transit.encrypt_data(name="durable", plaintext=b64(b"x"))["data"]["ciphertext"]
    server.stop()
    server.start(wait_for="unsealed")
    again = hvac.Client(url=server.address, token=root)
    assert again.secrets.transit.decrypt_data(name="durable", ciphertext=ciphertext)["data"]["plaintext"] == b64(b"x")


def test_a_shamir_sealed_daemon_refuses_token_keys(daemons: Any, tmp_path: Path) -> None:
    server = daemons(tmp_path, shamir_config(tmp_path)).start()
    init = server.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})[1]
    server.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    client = hvac.Client(url=server.address, token=init["root_token"])
    client.sys.enable_secrets_engine(backend_type="transit", path="transit")
    with pytest.raises(InvalidRequest, match="this server's seal has no token"):
        client.write_data("transit/keys/in-token", data={"type": "hsm-aes256-gcm96"})
    ciphertext = client.secrets.transit.encrypt_data(name="soft", plaintext=b64(b"ok"))["data"]["ciphertext"]
    assert client.secrets.transit.decrypt_data(name="soft", ciphertext=ciphertext)["data"]["plaintext"] == b64(b"ok")


def _keys_processes(daemon_pid: int) -> list[int]:
    """The daemon's children that are PKCS#11 keys processes."""
    try:
        children = Path(f"/proc/{daemon_pid}/task/{daemon_pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    found = []
    for child in children:
        with contextlib.suppress(FileNotFoundError):
            if b"keys_process_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("ending", ["stop", "kill -9"])
def test_the_keys_process_ends_with_its_daemon(daemons: Any, softhsm: Any, tmp_path: Path, ending: str) -> None:
    token = make_token(softhsm.directory, f"kp-{ending[:4]}-{uuid.uuid4().hex[:8]}", softhsm.pin, softhsm.so_pin)
    server = daemons(tmp_path, pkcs11_config(token, tmp_path)).start(wait_for="unsealed")
    assert server.process is not None
    daemon_pid = server.process.pid
    root = json.loads((tmp_path / "init.json").read_text())["root_token"]
    client = hvac.Client(url=server.address, token=root)
    client.sys.enable_secrets_engine(backend_type="transit", path="transit")
    assert _keys_processes(daemon_pid) == []  # started by the first in-token key call, not before
    client.write_data("transit/keys/in-token", data={"type": "hsm-aes256-gcm96"})
    (keys_pid,) = _keys_processes(daemon_pid)
    if ending == "stop":
        assert server.stop() == 0
    else:
        server.kill()
    server.wait_until(lambda: _gone(keys_pid), "the keys process to exit after its daemon")
