"""Secret engine types users can mount through sys/mounts, by type name. A new engine registers here;
the system and token backends are built by the core itself (one instance each, never user-mounted)."""

from __future__ import annotations

from engine.backends.kv import kv_factory
from engine.mounts import BackendFactory

SECRET_ENGINES: dict[str, BackendFactory] = {
    "kv": kv_factory,
}


def register(type_name: str, factory: BackendFactory) -> None:
    if type_name in SECRET_ENGINES:
        raise ValueError(f"secret engine type {type_name!r} is already registered")
    SECRET_ENGINES[type_name] = factory
