"""The transit secrets engine: mount type "transit"."""

from engine.backends.transit.backend import TransitBackend, transit_factory

__all__ = ["TransitBackend", "transit_factory"]
