"""The approle auth method: machines log in with a RoleID and a SecretID."""

from engine.backends.approle.backend import ApproleBackend, approle_factory

__all__ = ["ApproleBackend", "approle_factory"]
