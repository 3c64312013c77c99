"""The keyring: immutable terms, rotation by cloning, JSON round trip, no keys in reprs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine.barrier import Keyring, KeyTerm

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# A valid serialised term (an all-zero key); the malformed cases below each break one thing.
ENTRY = {"term": 1, "key": "A" * 43 + "=", "install_time": T0.isoformat()}


def doc(active_term: int = 1, *entries: dict[str, object], version: int = 1) -> bytes:
    return json.dumps({"version": version, "active_term": active_term, "keys": list(entries)}).encode()


def test_a_new_keyring_has_one_active_term() -> None:
    keyring = Keyring.new(now=T0)
    assert keyring.active_term == 1
    assert keyring.active == KeyTerm(1, keyring.active.key, T0)
    assert len(keyring.active.key) == 32
    assert Keyring.new().active.key != keyring.active.key


def test_add_term_returns_a_clone_with_a_new_active_key() -> None:
    original = Keyring.new(now=T0)
    later = T0 + timedelta(days=30)
    rotated = original.add_term(now=later)
    assert original.active_term == 1
    assert len(original.terms) == 1
    assert rotated.active_term == 2
    assert [t.term for t in rotated.terms] == [1, 2]
    assert rotated.active.install_time == later
    assert rotated.active.key != original.active.key
    assert rotated.term(1) == original.active
    third = rotated.add_term()
    assert third.active_term == 3
    assert third.active.install_time.tzinfo is not None


def test_term_lookup() -> None:
    keyring = Keyring.new().add_term().add_term()
    assert [keyring.term(n).term for n in (1, 2, 3)] == [1, 2, 3]  # type: ignore[union-attr]
    assert keyring.term(0) is None
    assert keyring.term(4) is None


def test_json_round_trip() -> None:
    keyring = Keyring.new(now=T0).add_term(now=T0 + timedelta(hours=1))
    restored = Keyring.from_json(keyring.to_json())
    assert restored == keyring
    assert restored.active.key == keyring.active.key
    assert restored.term(1) == keyring.term(1)
    assert restored.active.install_time == T0 + timedelta(hours=1)


def test_keys_never_appear_in_reprs() -> None:
    keyring = Keyring.new().add_term()
    text = repr(keyring) + repr(keyring.active) + str(keyring.terms)
    for term in keyring.terms:
        assert repr(term.key) not in text
        assert term.key.hex() not in text
    assert "key=" not in text


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b"{}",
        doc(1, ENTRY, version=2),
        doc(2, ENTRY),
        doc(1),
        doc(1, {**ENTRY, "key": "short"}),
        doc(1, {**ENTRY, "key": "AAAA"}),
        doc(1, ENTRY, ENTRY),
        doc(1, {**ENTRY, "install_time": "noon"}),
        doc(1, {"term": 1}),
    ],
)
def test_malformed_keyrings_are_value_errors(data: bytes) -> None:
    with pytest.raises(ValueError):
        Keyring.from_json(data)


def test_the_valid_entry_parses() -> None:
    # So each malformed case above fails for the one thing it changes.
    keyring = Keyring.from_json(doc(1, ENTRY))
    assert keyring.active == KeyTerm(1, bytes(32), T0)


def test_key_terms_must_hold_256_bit_keys() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyTerm(1, b"short", T0)
