"""Cache backends by config name. Adding one is a new module with a ``from_config`` classmethod plus one
line here.

Entries are import paths, not classes, so a backend's dependencies (``pymilvus``, ``usearch``) are only
imported by a router configured to use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from semrouter.cache.base import CacheBackend
    from semrouter.cache.config import CacheConfig

BACKENDS: dict[str, str] = {
    "memory": "semrouter.cache.memory:MemoryCache",
    "milvus": "semrouter.cache.milvus:MilvusCache",
    "redis": "semrouter.cache.redis:RedisCache",
}


class _Factory(Protocol):
    def from_config(self, cfg: CacheConfig) -> CacheBackend: ...


def backend_class(name: str) -> _Factory:
    """The backend class registered as ``name`` (imported now); KeyError for an unknown name."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown cache backend '{name}'; known: {sorted(BACKENDS)}") from None
    module, _, attr = target.partition(":")
    return cast(_Factory, getattr(importlib.import_module(module), attr))


def create_backend(cfg: CacheConfig) -> CacheBackend:
    """A new backend for ``cfg.backend``, built from the cache config."""
    return backend_class(cfg.backend).from_config(cfg)
