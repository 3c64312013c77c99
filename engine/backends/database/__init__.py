"""The database secrets engine: mount type "database"."""

from engine.backends.database.backend import DatabaseBackend, database_factory

__all__ = ["DatabaseBackend", "database_factory"]
