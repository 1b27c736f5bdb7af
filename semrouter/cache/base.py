"""The semantic-cache backend protocol and the answer it stores.

Why a protocol this small: the pipeline stage (lookup before routing, store after a completed answer)
must not care whether entries live in this process or in Milvus, and a backend that is slow or down is
bypassed by the stage with a timeout. So the backend only answers four questions — is there a close
enough answer *in this partition*, keep this answer, forget these answers, how are you doing — and every
policy decision (what is cacheable, which threshold and TTL apply, how to replay) stays in the stage.

Partition isolation is part of the contract, not a convenience: ``lookup`` may only ever return an entry
stored under the *same* partition string. Backends must make that structural (a separate index per
partition, or a filter that is part of every query), never a check after the search that a later edit
could drop.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
"""A unit-norm float32 (384,) request embedding, as :class:`semrouter.embed.service.EmbeddingService` gives."""


class BackendNotReady(RuntimeError):
    """Raised by ``lookup``/``store`` while a backend is still starting (e.g. its first connection is being
    opened in the background). Not a fault: the stage serves the request without the cache, counts a
    ``not_ready`` bypass and leaves the circuit breaker alone, so a slow start cannot trip it."""


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """Everything needed to answer a later request, as JSON or as an SSE replay, whichever way it was stored.

    Stored as fields rather than raw response bytes because a stream hit must be replayed as a fresh SSE
    stream (role chunk, content chunks, finish chunk, usage, ``[DONE]``) and a non-stream hit as one JSON
    body, and the answer may have arrived in the other form. ``tool_calls`` and ``usage`` keep the
    OpenAI shapes (lists/dicts of JSON values); ``created`` is the Unix time the original answer was made.
    """

    content: str | None
    model: str
    created: float
    finish_reason: str = "stop"
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    prompt: str = ""
    """The request text the answer was for, as :mod:`semrouter.cache.match` normalises it: a hit is only
    served if the new request is compatible with it (same numbers, entities, negation, language), because
    embedding similarity alone cannot tell "2 + 3" from "2 + 4"."""
    origin: dict[str, str] | None = None
    """Set only on the copy kept in a request's *question* partition (:func:`semrouter.cache.keys.question_key`):
    the ``decision``, selected ``model`` and decision ``partition`` that produced the answer, so a paraphrase
    routed elsewhere can adopt exactly that decision and model (the stage checks it against the current config)."""


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A lookup result: which entry answered, how similar it was (exact cosine), and the answer."""

    entry_id: int
    similarity: float
    answer: CachedAnswer


@dataclass(slots=True)
class CacheStats:
    """Counters a backend reports (``stats()`` returns them as a plain dict for the admin API)."""

    entries: int = 0
    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0  # LRU or category-quota evictions (capacity), not TTL expiry
    expirations: int = 0  # entries dropped because their TTL passed
    invalidations: int = 0  # entries dropped by ``invalidate``
    per_category: dict[str, int] = field(default_factory=dict)  # live entries per category ("" = none)


@runtime_checkable
class CacheBackend(Protocol):
    """What the cache stage needs from a backend.

    ``now`` is passed in (Unix seconds, ``time.time()`` in production) so expiry is deterministic in tests
    and one request uses one clock reading for lookup and store.

    A backend that needs slow set-up (a connection, a collection) may also have a ``start()`` method: the
    router calls it once at start-up and it must return at once, doing the work in the background; until
    that is done, ``lookup`` and ``store`` raise :class:`BackendNotReady` instead of waiting. If it returns
    a ``concurrent.futures.Future`` of that first attempt, readiness waits for it, at most the backend's
    ``start_timeout_s`` (10 s if it has none), so a router does not take traffic while its cache would
    still be bypassed.
    """

    async def lookup(self, vector: Vector, partition: str, threshold: float, now: float) -> CacheHit | None:
        """The most similar live entry of ``partition`` with cosine ≥ ``threshold``, or ``None``.

        Expired entries are never returned. Entries of any other partition are never considered.
        """
        ...

    async def store(
        self,
        vector: Vector,
        partition: str,
        answer: CachedAnswer,
        ttl_s: float,
        category: str | None,
        now: float,
        *,
        decision: str | None = None,
    ) -> None:
        """Keep ``answer`` for ``ttl_s`` seconds from ``now`` under ``partition``; may evict other entries.

        ``decision`` is recorded so ``invalidate(decision=...)`` can find the entry (partitions are opaque).
        """
        ...

    async def invalidate(
        self,
        partition_prefix: str | None = None,
        older_than: float | None = None,
        decision: str | None = None,
    ) -> int:
        """Drop entries matching every given filter (none given: flush all); returns how many were dropped.

        ``partition_prefix`` matches the start of the partition key (the stage puts the tenant first, so a
        tenant's entries share a prefix); ``older_than`` drops entries created before that Unix time;
        ``decision`` drops entries stored under that decision name.
        """
        ...

    def stats(self) -> dict[str, Any]:
        """Counters as a JSON-ready dict: entries, hits, misses, evictions, per-category counts, ..."""
        ...


def key_digest(text: str) -> str:
    """sha256 hex of a partition, tenant, decision or category name: what the shared stores index and filter
    on (fixed length, no characters their query languages would need escaped)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def finite_literal(value: float) -> str:
    """A float as a query literal for the shared stores; NaN/inf would be parse errors (or match
    everything), so they are refused."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite time: {value!r}")
    return repr(float(value))
