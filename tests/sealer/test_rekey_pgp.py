"""Rekey with `pgp_keys` (each new share encrypted to its holder's real OpenPGP key) and `backup` (the
encrypted shares kept in storage, read and deleted through sys/rekey/backup with a root token)."""

from __future__ import annotations

import base64

from tests.pgp_holders import holders
from tests.sealer.ceremony_harness import running


async def test_new_shares_are_encrypted_to_their_holders_and_backed_up() -> None:
    people = holders("alice", "bob", "carol")
    async with running(shares=3, threshold=2) as api:
        started = await api.ok("PUT", "sys/rekey/init", {
            "secret_shares": 3, "secret_threshold": 2, "backup": True,
            "pgp_keys": [person.public_key for person in people],
        })
        fingerprints = [person.fingerprint for person in people]
        assert started["pgp_fingerprints"] == fingerprints and started["backup"] is True
        nonce = started["nonce"]
        await api.ok("PUT", "sys/rekey/update", {"key": api.shares[0].hex(), "nonce": nonce})
        done = await api.ok("PUT", "sys/rekey/update", {"key": api.shares[1].hex(), "nonce": nonce})
        assert done["pgp_fingerprints"] == fingerprints and done["backup"] is True
        # Each holder decrypts theirs (base64 -d | gpg -d): the plaintext is the share's hex, as in Vault.
        new = [bytes.fromhex(person.decrypt(message).decode())
               for person, message in zip(people, done["keys_base64"], strict=True)]
        assert [bytes.fromhex(k) for k in done["keys"]] != new  # what travels is the encrypted message
        assert await api.proves(new[1:]) and not await api.proves(api.shares[:2])

        assert await api.refused("GET", "sys/rekey/backup", status=403) == "permission denied"
        backup = await api.ok("GET", "sys/rekey/backup", token=api.init.root_token)
        assert backup["data"]["nonce"] == nonce
        assert backup["data"]["keys"] == {fp: [k] for fp, k in zip(fingerprints, done["keys"], strict=True)}
        message_hex = backup["data"]["keys"][fingerprints[2]][0]
        recovered = people[2].decrypt(base64.b64encode(bytes.fromhex(message_hex)).decode())
        assert bytes.fromhex(recovered.decode()) == new[2]

        assert await api.ok("DELETE", "sys/rekey/backup", token=api.init.root_token) is None
        status, answer = await api.call("GET", "sys/rekey/backup", token=api.init.root_token)
        assert status == 400 and answer["errors"] == ["no backed-up keys found"]


async def test_without_backup_nothing_is_stored() -> None:
    (alice,) = holders("alice")
    async with running() as api:
        started = await api.ok("PUT", "sys/rekey/init", {"secret_shares": 1, "secret_threshold": 1,
                                                         "pgp_keys": [alice.public_key]})
        assert started["backup"] is False
        for share in api.shares[:2]:
            done = await api.ok("PUT", "sys/rekey/update", {"key": share.hex(), "nonce": started["nonce"]})
        (single,) = done["keys_base64"]
        assert await api.proves([bytes.fromhex(alice.decrypt(single).decode())])
        status, answer = await api.call("GET", "sys/rekey/backup", token=api.init.root_token)
        assert status == 400 and answer["errors"] == ["no backed-up keys found"]
