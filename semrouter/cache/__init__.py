"""Semantic cache: answer a request from an earlier, semantically equivalent one (issue 5).

Backends implement :class:`CacheBackend`; :class:`MemoryCache` is the embedded default.
"""

from semrouter.cache.base import CacheBackend, CachedAnswer, CacheHit, CacheStats, Vector
from semrouter.cache.memory import MemoryCache

__all__ = ["CacheBackend", "CacheHit", "CacheStats", "CachedAnswer", "MemoryCache", "Vector"]
