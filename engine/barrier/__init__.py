"""The security barrier and its keyring."""

from engine.barrier.barrier import KEYRING_PATH, Barrier, KeyStatus
from engine.barrier.keyring import Keyring, KeyTerm

__all__ = ["KEYRING_PATH", "Barrier", "KeyStatus", "KeyTerm", "Keyring"]
