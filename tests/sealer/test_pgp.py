"""sealer.pgp: shares and tokens encrypted to real OpenPGP keys and decrypted with the holders' private keys."""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path

import pytest
from pysequoia import Tsk
from pysequoia.packet import PacketPile, Tag

from engine.errors import BadRequest
from sealer import pgp
from tests.pgp_holders import Holder, holders, sign_only_key


def test_each_share_is_encrypted_as_hex_text_to_its_own_holder() -> None:
    people = holders("alice", "bob", "carol")
    shares = [os.urandom(33) for _ in people]
    encrypted, fingerprints = pgp.encrypt_shares([p.public_key for p in people], shares)

    assert fingerprints == [p.fingerprint for p in people]
    assert all(len(f) == 40 and f == f.lower() for f in fingerprints)
    for person, share, message in zip(people, shares, encrypted, strict=True):
        # Vault encrypts the hex form of the share, so `gpg -d` prints something people can paste.
        assert person.decrypt(message) == share.hex().encode()
        assert not base64.b64decode(message).startswith(b"-----")  # binary OpenPGP, not armor
    # Share 0 went to alice only: bob's key cannot open it.
    with pytest.raises(RuntimeError):
        people[1].decrypt(encrypted[0])


def test_token_is_encrypted_as_its_text() -> None:
    alice = Holder.make("alice")
    message, fingerprint = pgp.encrypt_token(alice.public_key, "hvs.root-token")
    assert fingerprint == alice.fingerprint
    assert alice.decrypt(message) == b"hvs.root-token"


async def test_async_variants_give_the_same_results() -> None:
    alice, bob = holders("alice", "bob")
    assert await pgp.check_keys_async([alice.public_key, bob.public_key]) == [alice.fingerprint, bob.fingerprint]
    assert await pgp.check_key_async(alice.public_key) == alice.fingerprint
    encrypted, _ = await pgp.encrypt_shares_async([alice.public_key, bob.public_key], [b"\x01", b"\x02"])
    assert [alice.decrypt(encrypted[0]), bob.decrypt(encrypted[1])] == [b"01", b"02"]
    message, _ = await pgp.encrypt_token_async(bob.public_key, "t")
    assert bob.decrypt(message) == b"t"


def test_key_count_must_match_share_count() -> None:
    alice = Holder.make("alice")
    with pytest.raises(BadRequest, match=r"^incorrect number of PGP keys$"):
        pgp.encrypt_shares([alice.public_key], [b"a", b"b"])
    with pytest.raises(BadRequest, match=r"^incorrect number of PGP keys for rekey$"):
        pgp.encrypt_shares([alice.public_key] * 3, [b"a", b"b"], mismatch="incorrect number of PGP keys for rekey")


def test_bad_keys_are_refused_naming_their_index() -> None:
    alice = Holder.make("alice")
    good = alice.public_key
    cases = [
        ("not base64!", "error decoding given PGP key pgp_keys[1]: "),
        (base64.b64encode(b"garbage").decode(), "error parsing given PGP key pgp_keys[1]: "),
        ("", "error parsing given PGP key pgp_keys[1]: "),
        (good[:200], "error parsing given PGP key pgp_keys[1]: "),
        (sign_only_key(alice), f"PGP key pgp_keys[1] ({alice.fingerprint}) cannot be encrypted to: "),
    ]
    for bad, message in cases:
        with pytest.raises(BadRequest, match=re.escape(message)) as excinfo:
            pgp.check_keys([good, bad, good])
        assert "Stack backtrace" not in excinfo.value.message
        with pytest.raises(BadRequest, match=re.escape(message)):
            pgp.encrypt_shares([good, bad, good], [b"a", b"b", b"c"])
    with pytest.raises(BadRequest, match=r"recovery_pgp_keys\[0\]"):
        pgp.check_keys(["x"], field="recovery_pgp_keys")
    with pytest.raises(BadRequest, match="error decoding given PGP key root_token_pgp_key:"):
        pgp.encrypt_token("x", "token")


def test_revoked_and_expired_keys_are_refused() -> None:
    alice = Holder.make("alice")
    revocation = alice.cert.revoke(alice.tsk.certifier())
    revoked = base64.b64encode(bytes(alice.cert) + bytes(revocation)).decode()
    with pytest.raises(BadRequest, match="is revoked"):
        pgp.check_key(revoked)

    short_lived = Tsk.generate("bob <bob@example.test>", validity_seconds=1).extract_certificate()
    expired = base64.b64encode(bytes(short_lived)).decode()
    deadline = time.monotonic() + 10
    while short_lived.expiration is not None and short_lived.expiration.timestamp() >= time.time():
        assert time.monotonic() < deadline
        time.sleep(0.05)  # poll: wait for the key's own expiry time to pass
    with pytest.raises(BadRequest, match="expired on"):
        pgp.check_key(expired)


def test_load_public_key_reads_binary_armored_and_base64_files_and_plain_base64(tmp_path: Path) -> None:
    alice = Holder.make("alice")
    expected = alice.public_key
    (tmp_path / "alice.gpg").write_bytes(bytes(alice.cert))
    (tmp_path / "alice.asc").write_text(str(alice.cert))
    (tmp_path / "alice.b64").write_text(expected + "\n")
    for name in ("alice.gpg", "alice.asc", "alice.b64"):
        assert pgp.load_public_key(str(tmp_path / name)) == expected
    assert pgp.load_public_key("@" + str(tmp_path / "alice.gpg")) == expected  # Vault's @file spelling
    assert pgp.load_public_key(expected) == expected
    assert pgp.load_public_key(f"  {expected}  ") == expected


def test_load_public_key_sends_only_the_public_part_of_a_private_key_file(tmp_path: Path) -> None:
    alice = Holder.make("alice")
    secret_file = tmp_path / "alice-secret.gpg"
    secret_file.write_bytes(bytes(alice.tsk))
    assert Tag.SecretKey in _tags(bytes(alice.tsk))
    loaded = base64.b64decode(pgp.load_public_key(str(secret_file)))
    assert loaded == bytes(alice.cert)
    assert Tag.PublicKey in _tags(loaded)
    assert Tag.SecretKey not in _tags(loaded) and Tag.SecretSubkey not in _tags(loaded)


def test_load_public_key_refusals(tmp_path: Path) -> None:
    alice, bob = holders("alice", "bob")
    with pytest.raises(ValueError, match="Keybase keys are not supported"):
        pgp.load_public_key("keybase:jefferai")
    with pytest.raises(ValueError, match="neither a readable file nor a base64"):
        pgp.load_public_key(str(tmp_path / "missing.gpg"))
    ring = tmp_path / "ring.gpg"
    ring.write_bytes(bytes(alice.cert) + bytes(bob.cert))
    with pytest.raises(ValueError, match="expected exactly one OpenPGP key, found 2"):
        pgp.load_public_key(str(ring))
    # Longer than a file name may be and no "/" in it: still read as a (bad) key, not as a path.
    with pytest.raises(ValueError, match="not an OpenPGP public key"):
        pgp.load_public_key("A" * 400)
    junk = tmp_path / "junk.txt"
    junk.write_text("hello, not a key\n")
    with pytest.raises(ValueError, match="not an OpenPGP public key"):
        pgp.load_public_key(str(junk))


def _tags(data: bytes) -> list[Tag]:
    return [packet.tag for packet in PacketPile.from_bytes(data)]
