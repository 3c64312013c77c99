"""The seal record's stored form: version 1 read as version 2, version 2 round-trips, and the objects
that carry the root key never show it."""

from __future__ import annotations

import json

from sealer.seal_manager import Editing
from sealer.seal_record import WRAPPED_ROOT_KEY, Change, KeyRef, SealRecord, Wrapping
from sealer.seal_wrappings import Unwrapped

V1 = {"type": "pkcs11", "installation_id": "00" * 16, "secret_shares": 1, "secret_threshold": 1,
      "recovery_shares": 5, "recovery_threshold": 3, "version": 1}


def test_a_version_1_record_reads_as_legacy_version_2() -> None:
    record = SealRecord.from_bytes(json.dumps(V1).encode())
    assert record.legacy and record.barrier_key_source == "token-hmac" and record.recovery_key_wrap == "token"
    [wrapping] = record.wrappings
    assert (wrapping.kind, wrapping.path, wrapping.identified) == ("pkcs11", WRAPPED_ROOT_KEY, False)
    assert (record.recovery_shares, record.recovery_threshold) == (5, 3)


def test_a_version_2_record_round_trips() -> None:
    wrapping = Wrapping.new("pkcs11", staged=True, token_label="t", token_serial="s", key_label="k2",
                            hmac_key_label="h", supersedes=(KeyRef("t", "s", "k1"),))
    record = SealRecord(type="pkcs11", installation_id="ab" * 16, recovery_shares=3, recovery_threshold=2,
                        recovery_key_wrap="root-key", wrappings=(wrapping,), break_glass=True,
                        change=Change("rewrap", "hsm", "2025-01-01T00:00:00Z"))
    again = SealRecord.from_bytes(record.to_bytes())
    assert again == record and not again.legacy
    assert json.loads(record.to_bytes())["version"] == 2
    assert wrapping.path == f"core/seal/root-key/{wrapping.id}"


def test_root_keys_stay_out_of_reprs() -> None:
    secret = bytes(range(32))
    for holder in (Unwrapped(secret), Editing(SealRecord(type="shamir", installation_id="00" * 16), secret)):
        assert secret.hex() not in repr(holder) and repr(secret) not in repr(holder)
