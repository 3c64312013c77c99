"""KV version 2: the versioned key-value secrets engine (see backend.py)."""

from engine.backends.kv_v2.backend import KvV2Backend, kv_v2_factory

__all__ = ["KvV2Backend", "kv_v2_factory"]
