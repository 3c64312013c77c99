"""Key holders for the PGP tests: real OpenPGP key pairs (Sequoia, Curve25519: milliseconds each)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from pysequoia import Cert, Tsk, decrypt
from pysequoia.packet import PacketPile, Tag


@dataclass(frozen=True)
class Holder:
    name: str
    tsk: Tsk = field(repr=False)

    @classmethod
    def make(cls, name: str) -> Holder:
        return cls(name, Tsk.generate(f"{name} <{name}@example.test>"))

    @property
    def cert(self) -> Cert:
        return self.tsk.extract_certificate()

    @property
    def public_key(self) -> str:
        """The public key as Vault takes it: base64 of the binary key."""
        return base64.b64encode(bytes(self.cert)).decode()

    @property
    def fingerprint(self) -> str:
        return self.cert.fingerprint

    def decrypt(self, message_b64: str) -> bytes:
        """What the holder does: base64 -d | gpg -d, with their private key."""
        plain = decrypt(base64.b64decode(message_b64), decryptor=self.tsk.decryptor()).bytes
        assert plain is not None
        return plain


def holders(*names: str) -> list[Holder]:
    return [Holder.make(name) for name in names]


def sign_only_key(holder: Holder) -> str:
    """The holder's certificate without its encryption subkey (the last subkey and its binding)."""
    packets = list(PacketPile.from_bytes(bytes(holder.cert)))
    binding = packets[-1]
    flags = binding.key_flags
    assert binding.tag == Tag.Signature and flags is not None and flags.transport_encryption
    return base64.b64encode(bytes(Cert.from_packets(packets[:-2]))).decode()
