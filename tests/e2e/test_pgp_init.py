"""PGP-encrypted init against a running daemon: the holders decrypt their shares and the root token with
their private keys (Sequoia, and the gpg binary as Vault users do), unseal with them and use the token."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest

from tests.e2e.conftest import pkcs11_config, shamir_config
from tests.e2e.test_cli_daemon import sealer
from tests.pgp_holders import holders, sign_only_key


def test_hvac_init_with_pgp_keys_then_unseal_and_use_the_decrypted_secrets(daemons, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, shamir_config(tmp_path)).start()
    alice, bob, carol = holders("alice", "bob", "carol")
    client = hvac.Client(url=daemon.address)
    result = client.sys.initialize(secret_shares=3, secret_threshold=2,
                                   pgp_keys=[alice.public_key, bob.public_key, carol.public_key],
                                   root_token_pgp_key=alice.public_key)

    # Vault's shape: `keys` is the hex and `keys_base64` the base64 of each binary OpenPGP message.
    assert [base64.b64decode(b).hex() for b in result["keys_base64"]] == result["keys"]
    shares = [p.decrypt(b).decode() for p, b in zip((alice, bob, carol), result["keys_base64"], strict=True)]
    assert all(len(share) == 66 and int(share, 16) >= 0 for share in shares)  # hex text of 33-byte shares
    root_token = alice.decrypt(result["root_token"]).decode()
    assert root_token.startswith("hvs.")
    assert root_token not in daemon.log() and all(share not in daemon.log() for share in shares)
    assert all(p.fingerprint in daemon.log() for p in (alice, bob, carol))  # who holds what, for the record

    client.sys.submit_unseal_key(shares[1])
    assert client.sys.submit_unseal_key(shares[2])["sealed"] is False
    client.token = root_token
    client.secrets.kv.v1.create_or_update_secret(path="pgp/check", secret={"ok": "yes"})
    assert client.secrets.kv.v1.read_secret(path="pgp/check")["data"] == {"ok": "yes"}


def test_bad_pgp_input_is_refused_and_the_daemon_stays_uninitialised(daemons, tmp_path: Path) -> None:
    daemon = daemons(tmp_path, shamir_config(tmp_path)).start()
    alice, bob = holders("alice", "bob")
    good = alice.public_key
    cases = [
        ({"pgp_keys": [good, "AAAA"]}, "error parsing given PGP key pgp_keys[1]"),
        ({"pgp_keys": [good, "not base64!"]}, "error decoding given PGP key pgp_keys[1]"),
        ({"pgp_keys": [good, sign_only_key(bob)]}, f"PGP key pgp_keys[1] ({bob.fingerprint}) cannot be encrypted"),
        ({"pgp_keys": [good]}, "incorrect number of PGP keys"),
        ({"pgp_keys": [good, good], "root_token_pgp_key": "AAAA"}, "error parsing given PGP key root_token_pgp_key"),
        ({"recovery_pgp_keys": [good, good]}, "parameters recovery_pgp_keys not applicable to seal type shamir"),
    ]
    for extra, message in cases:
        status, body = daemon.call("PUT", "sys/init", {"secret_shares": 2, "secret_threshold": 2, **extra})
        assert status == 400, (extra, body)
        assert body["errors"][0].startswith(message), body
        assert daemon.call("GET", "sys/init")[1] == {"initialized": False}
    # Nothing was half-done: a correct request still initialises.
    status, body = daemon.call("PUT", "sys/init", {"secret_shares": 2, "secret_threshold": 2,
                                                   "pgp_keys": [good, bob.public_key]})
    assert status == 200 and bob.decrypt(body["keys_base64"][1])
    assert daemon.call("GET", "sys/init")[1] == {"initialized": True}


def test_pkcs11_recovery_shares_encrypted_with_recovery_pgp_keys(daemons, softhsm_token, tmp_path: Path) -> None:
    config = pkcs11_config(softhsm_token, tmp_path)
    del config["auto_init"]
    daemon = daemons(tmp_path, config).start()
    alice, bob, carol = holders("alice", "bob", "carol")
    status, body = daemon.call("PUT", "sys/init", {"recovery_shares": 3, "recovery_threshold": 2,
                                                   "pgp_keys": [alice.public_key] * 3})
    assert status == 400 and body["errors"] == ["parameters pgp_keys not applicable to seal type pkcs11"]
    assert daemon.call("GET", "sys/init")[1] == {"initialized": False}

    client = hvac.Client(url=daemon.address)
    result = client.sys.initialize(recovery_shares=3, recovery_threshold=2,
                                   recovery_pgp_keys=[alice.public_key, bob.public_key, carol.public_key],
                                   root_token_pgp_key=bob.public_key)
    assert result["keys"] == []
    recovery = [p.decrypt(b).decode() for p, b in zip((alice, bob, carol), result["recovery_keys_base64"],
                                                       strict=True)]
    client.token = bob.decrypt(result["root_token"]).decode()
    daemon.wait_until(lambda: daemon.health_status() == 200, "the daemon to unseal itself")
    client.secrets.kv.v1.create_or_update_secret(path="pgp/hsm", secret={"ok": "yes"})

    # After an operator's seal, the decrypted recovery shares are what opens it again.
    client.sys.seal()
    client.sys.submit_unseal_key(recovery[0])
    assert client.sys.submit_unseal_key(recovery[2])["sealed"] is False
    assert client.secrets.kv.v1.read_secret(path="pgp/hsm")["data"] == {"ok": "yes"}


@dataclass(frozen=True)
class GpgHolder:
    """A key holder using the gpg binary with their own keyring, as Vault's docs show."""

    home: Path

    def gpg(self, *args: str, data: bytes | None = None) -> bytes:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        done = subprocess.run(["gpg", "--batch", "--quiet", *args], input=data, env=env, capture_output=True,
                              timeout=60, check=True)
        return done.stdout

    def decrypt(self, message_b64: str) -> bytes:
        return self.gpg("--decrypt", data=base64.b64decode(message_b64))


@pytest.fixture
def gpg_holder() -> Iterator[GpgHolder]:
    # A short private home: gpg-agent's socket path must stay under the Unix limit.
    with tempfile.TemporaryDirectory(prefix="gpg-") as home:
        holder = GpgHolder(Path(home))
        holder.gpg("--passphrase", "", "--quick-gen-key", "Dana <dana@example.test>", "future-default", "default",
                   "never")
        try:
            yield holder
        finally:
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": home},
                           capture_output=True, timeout=60, check=False)


def test_cli_init_with_key_files_decrypted_by_gpg(daemons, tmp_path: Path, gpg_holder: GpgHolder) -> None:
    daemon = daemons(tmp_path, shamir_config(tmp_path)).start()
    (erin,) = holders("erin")
    dana_asc = tmp_path / "dana.asc"
    dana_asc.write_bytes(gpg_holder.gpg("--armor", "--export", "dana@example.test"))
    erin_gpg = tmp_path / "erin.gpg"
    erin_gpg.write_bytes(bytes(erin.cert))

    refused = sealer(daemon, "operator", "init", "-key-shares=2", "-key-threshold=2",
                     f"-pgp-keys={dana_asc},keybase:erin")
    assert refused.returncode == 1 and "Keybase keys are not supported" in refused.stderr
    assert daemon.call("GET", "sys/init")[1] == {"initialized": False}

    init = sealer(daemon, "operator", "init", "-key-shares=2", "-key-threshold=2",
                  f"-pgp-keys={dana_asc},{erin.public_key}", f"-root-token-pgp-key=@{erin_gpg}", "-format=json")
    assert init.returncode == 0, init.stderr
    result = json.loads(init.stdout)
    dana_share = gpg_holder.decrypt(result["unseal_keys_b64"][0]).decode()
    erin_share = erin.decrypt(result["unseal_keys_b64"][1]).decode()
    token = erin.decrypt(result["root_token"]).decode()

    assert sealer(daemon, "operator", "unseal", stdin=dana_share + "\n").returncode == 0
    assert sealer(daemon, "operator", "unseal", stdin=erin_share + "\n").returncode == 0
    assert sealer(daemon, "status").returncode == 0
    assert sealer(daemon, "write", "secret/pgp", "who=dana", token=token).returncode == 0
    assert sealer(daemon, "read", "-field=who", "secret/pgp", token=token).stdout.strip() == "dana"
