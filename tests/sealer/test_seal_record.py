"""The seal record's stored form round-trips, and the objects that carry the root key never show it."""

from __future__ import annotations

import json

from sealer.seal_manager import Editing
from sealer.seal_record import Change, KeyRef, SealRecord, Wrapping
from sealer.seal_wrappings import Unwrapped


def test_a_record_round_trips() -> None:
    wrapping = Wrapping.new("pkcs11", staged=True, token_label="t", token_serial="s", key_label="k2",
                            hmac_key_label="h", supersedes=(KeyRef("t", "s", "k1"),))
    record = SealRecord(type="pkcs11", installation_id="ab" * 16, recovery_shares=3, recovery_threshold=2,
                        wrappings=(wrapping,), break_glass=True,
                        change=Change("rewrap", "hsm", "2025-01-01T00:00:00Z"))
    again = SealRecord.from_bytes(record.to_bytes())
    assert again == record
    assert json.loads(record.to_bytes())["version"] == 1
    assert wrapping.path == f"core/seal/root-key/{wrapping.id}"


def test_root_keys_stay_out_of_reprs() -> None:
    secret = bytes(range(32))
    for holder in (Unwrapped(secret), Editing(SealRecord(type="shamir", installation_id="00" * 16), secret)):
        assert secret.hex() not in repr(holder) and repr(secret) not in repr(holder)
