"""Semantic cache: answer a request from an earlier, semantically equivalent one (issue 5).

Backends implement :class:`CacheBackend` and are imported where used (``semrouter.cache.memory``,
``semrouter.cache.milvus``): this package is imported by the config schema, which must stay light.
"""

from semrouter.cache.base import BackendNotReady, CacheBackend, CachedAnswer, CacheHit, CacheStats, Vector

__all__ = ["BackendNotReady", "CacheBackend", "CacheHit", "CacheStats", "CachedAnswer", "Vector"]
