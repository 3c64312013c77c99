"""The barrier's keyring: every encryption key the barrier has ever used, by term.

Immutable: `add_term` returns a new keyring, so a rotation is prepared and persisted before the
barrier switches to it, and a reader never sees a half-updated keyring.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.crypto import Cipher, new_key
from engine.crypto.keys import KEY_SIZE

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class KeyTerm:
    term: int
    key: bytes = field(repr=False)
    install_time: datetime
    cipher: Cipher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_SIZE:
            raise ValueError(f"term {self.term}: a barrier key is {KEY_SIZE} bytes")
        object.__setattr__(self, "cipher", Cipher(self.key))


@dataclass(frozen=True)
class Keyring:
    terms: tuple[KeyTerm, ...]
    active_term: int
    _by_term: dict[int, KeyTerm] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_term = {key_term.term: key_term for key_term in self.terms}
        if len(by_term) != len(self.terms):
            raise ValueError("keyring has duplicate terms")
        if self.active_term not in by_term:
            raise ValueError(f"keyring has no key for its active term {self.active_term}")
        object.__setattr__(self, "_by_term", by_term)

    @classmethod
    def new(cls, now: datetime | None = None) -> Keyring:
        """A keyring holding one fresh key, term 1."""
        return cls(terms=(KeyTerm(1, new_key(), now or _utcnow()),), active_term=1)

    @property
    def active(self) -> KeyTerm:
        return self._by_term[self.active_term]

    def term(self, n: int) -> KeyTerm | None:
        return self._by_term.get(n)

    def add_term(self, now: datetime | None = None) -> Keyring:
        """A copy with a fresh key under the next term, made active. Old terms stay for decryption."""
        latest = max(self._by_term)
        added = KeyTerm(latest + 1, new_key(), now or _utcnow())
        return Keyring(terms=(*self.terms, added), active_term=added.term)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": _FORMAT_VERSION,
                "active_term": self.active_term,
                "keys": [
                    {
                        "term": key_term.term,
                        "key": base64.b64encode(key_term.key).decode(),
                        "install_time": key_term.install_time.isoformat(),
                    }
                    for key_term in self.terms
                ],
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Keyring:
        """Parse `to_json` output; ValueError if it is not a keyring."""
        try:
            doc = json.loads(data)
            if doc["version"] != _FORMAT_VERSION:
                raise ValueError(f"unsupported keyring format version {doc['version']!r}")
            terms = tuple(
                KeyTerm(
                    term=int(entry["term"]),
                    key=base64.b64decode(entry["key"], validate=True),
                    install_time=datetime.fromisoformat(entry["install_time"]),
                )
                for entry in doc["keys"]
            )
            return cls(terms=terms, active_term=int(doc["active_term"]))
        except (KeyError, TypeError, AttributeError) as exc:
            # Anything else wrong is already a ValueError (bad JSON, bad base64, inconsistent terms).
            raise ValueError(f"malformed keyring: {exc.__class__.__name__}") from exc


def _utcnow() -> datetime:
    return datetime.now(UTC)
