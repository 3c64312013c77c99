"""The PKI secrets engine."""

from engine.backends.pki.backend import PkiBackend, pki_factory

__all__ = ["PkiBackend", "pki_factory"]
