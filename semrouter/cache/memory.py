"""In-process semantic cache: one vector index per partition, LRU + TTL + per-category quotas.

Why this shape (numbers: ``bench/cache_backends.py``):

* **One index per partition.** A hit may only come from the same partition (tenant, decision, system
  prompt / earlier turns, tools, response format). Each partition owns its own vectors, so a lookup
  physically cannot see another partition's entries; there is no filter to forget.
* **Exact brute force for small partitions, HNSW (usearch) for large ones.** Brute force over a
  preallocated float32 matrix is exact, has O(1) insert/delete and is sub-millisecond up to ~10k rows,
  but grows linearly (tens of ms at 100k, ~0.1-0.5 s at 1M on 2 cores). Most partitions stay small
  (each distinct system prompt or conversation prefix is its own partition); the few that grow past
  ``ann_min_entries`` get an HNSW graph, built in a background thread from a snapshot so no store ever
  stalls the event loop for the build; brute force keeps answering until the graph is installed.
  usearch was picked over hnswlib (sdist, compiles ~65 s), faiss (HNSW has no delete, so LRU/TTL would
  need rebuilds) for its prebuilt wheels, deletes and int8 graphs. It is optional: without it every
  partition stays brute force and large lookups are moved off the event loop (``asyncio.to_thread``).
* **Exact similarity for the threshold.** The graph is quantised (int8) for speed; its candidates are
  re-scored against the float32 rows, so the similarity compared with the threshold and reported in
  ``x-vsr-cache-similarity`` is the exact cosine whichever index produced the candidate.
* **Capacity.** ``max_entries`` with global LRU; a per-category quota evicts the category's own least
  recently used entry first, so one busy category cannot push the others out. TTL is per entry; expired
  entries are skipped (and removed) when a lookup meets them and swept lazily from an expiry heap.
* **Concurrency.** A ``threading.Lock`` guards all state (the admin API or a second event loop may call
  in). Lookups and stores are short enough to run on the event loop (brute force ≤ ``ann_min_entries``
  rows, or a graph search); only a large brute-force partition (no usearch) is offloaded to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import importlib
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from semrouter.cache.base import CachedAnswer, CacheHit, CacheStats, Vector

if TYPE_CHECKING:
    from semrouter.cache.config import CacheConfig

log = logging.getLogger("semrouter.cache.memory")


def _load_usearch() -> Any:
    """usearch's Index class, or ``None``: imported dynamically so type checks pass with or without it.

    onnxruntime is imported first on purpose: with usearch 2.26 / numkong 7.8 loaded *before* onnxruntime
    1.2x, importing onnxruntime segfaults the process (the other order is fine), and the embedding model
    may well be loaded after the cache module.
    """
    with contextlib.suppress(ImportError):
        importlib.import_module("onnxruntime")
    try:
        return importlib.import_module("usearch.index").Index
    except ImportError:  # pragma: no cover - depends on the environment
        return None


_UsearchIndex: Any = _load_usearch()
HAVE_USEARCH = _UsearchIndex is not None

_FLOAT = np.float32
_NO_ENTRY = -1
_CANDIDATES = 4  # graph candidates re-scored exactly: covers int8 ranking noise and expired neighbours


@dataclass(slots=True, eq=False)
class _Entry:
    id: int
    partition: _Partition
    slot: int
    category: str  # "" when the request had no category
    decision: str | None
    created: float
    expires: float
    answer: CachedAnswer


class _GraphBuild:
    """State of a background HNSW build for one partition (entries added/removed while it ran)."""

    __slots__ = ("added", "removed", "thread")

    def __init__(self) -> None:
        self.added: list[int] = []  # entry ids stored after the snapshot
        self.removed: set[int] = set()  # entry ids dropped after the snapshot
        self.thread: threading.Thread | None = None


class _Partition:
    """One partition's vectors: a float32 row per entry (free rows are zero) and an optional HNSW graph.

    Rows are reused through a free list so the matrix never holds more than the partition's peak size;
    a zero row scores 0, below any valid threshold, so brute force needs no validity mask.
    """

    __slots__ = ("building", "dim", "entry_of", "free", "graph", "high", "key", "size", "vectors")

    def __init__(self, key: str, dim: int, capacity: int = 16) -> None:
        self.key = key
        self.dim = dim
        self.vectors: npt.NDArray[np.float32] = np.zeros((capacity, dim), dtype=_FLOAT)
        self.entry_of: npt.NDArray[np.int64] = np.full(capacity, _NO_ENTRY, dtype=np.int64)
        self.free: list[int] = []
        self.high = 0  # rows [0, high) have been used at least once
        self.size = 0
        self.graph: Any = None  # usearch Index keyed by entry id, once the partition is large
        self.building: _GraphBuild | None = None

    def add(self, entry_id: int, vector: Vector) -> int:
        if self.free:
            slot = self.free.pop()
        else:
            if self.high == len(self.vectors):
                grow = max(16, len(self.vectors))
                self.vectors = np.concatenate([self.vectors, np.zeros((grow, self.dim), dtype=_FLOAT)])
                self.entry_of = np.concatenate([self.entry_of, np.full(grow, _NO_ENTRY, dtype=np.int64)])
            slot = self.high
            self.high += 1
        self.vectors[slot] = vector
        self.entry_of[slot] = entry_id
        self.size += 1
        if self.graph is not None:
            self.graph.add(entry_id, vector)
        if self.building is not None:
            self.building.added.append(entry_id)
        return slot

    def remove(self, entry_id: int, slot: int) -> None:
        self.vectors[slot] = 0.0
        self.entry_of[slot] = _NO_ENTRY
        self.free.append(slot)
        self.size -= 1
        if self.graph is not None:
            self.graph.remove(entry_id)
        if self.building is not None:
            self.building.removed.add(entry_id)

    def candidates(self, vector: Vector, threshold: float, slot_of: Mapping[int, int]) -> list[tuple[float, int]]:
        """(exact cosine, entry id) of the best rows with cosine ≥ threshold, best first."""
        if self.graph is not None:
            found = self.graph.search(vector, _CANDIDATES)
            ids = [int(k) for k in found.keys if int(k) in slot_of]
            slots = np.fromiter((slot_of[i] for i in ids), dtype=np.int64, count=len(ids))
            sims = self.vectors[slots] @ vector if len(ids) else np.empty(0, dtype=_FLOAT)
        else:
            all_sims = self.vectors[: self.high] @ vector
            if self.high > _CANDIDATES:
                top = np.argpartition(all_sims, -_CANDIDATES)[-_CANDIDATES:]
            else:
                top = np.arange(self.high)
            sims = all_sims[top]
            ids = [int(i) for i in self.entry_of[top]]
        out = [(float(s), i) for s, i in zip(sims, ids, strict=True) if s >= threshold and i != _NO_ENTRY]
        out.sort(reverse=True)
        return out


# The graph's shape, shared with the benchmarks that measure it (bench/cache_backends.py,
# bench/hnsw_expansion.py). int8, cosine metric (int8 inner products are not scaled back), M=16. Build
# and search expansion 128: on 1M clustered rows (bench/hnsw_expansion.py) ef 64/64 found the stored row
# for only 69% of near-duplicate queries (tight topics trap the greedy search in the wrong one); 128/128
# finds 95% at the same lookup p50 (~1 ms there). It costs build time (in the background) and a slower
# insert into a large graph (store p50 ~1-2 ms at 1M, docs/benchmarks.md).
GRAPH_PARAMS: dict[str, Any] = {
    "metric": "cos",
    "dtype": "i8",
    "connectivity": 16,
    "expansion_add": 128,
    "expansion_search": 128,
}


def _new_graph(dim: int) -> Any:
    assert _UsearchIndex is not None
    return _UsearchIndex(ndim=dim, **GRAPH_PARAMS)


class MemoryCache:
    """The embedded cache backend (see the module docstring for the design and its reasons).

    ``max_entries``: total capacity (LRU beyond it). ``category_quota``: per-category caps;
    ``default_category_quota`` caps any category not listed (``None``: only ``max_entries`` applies).
    ``ann_min_entries``: partition size at which an HNSW graph is built (needs usearch; ``None`` disables).
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        dim: int = 384,
        category_quota: Mapping[str, int] | None = None,
        default_category_quota: int | None = None,
        ann_min_entries: int | None = 8_192,
        offload_min_rows: int = 32_768,
        background_build: bool = True,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        quotas = dict(category_quota or {})
        if any(q < 1 for q in quotas.values()) or (default_category_quota is not None and default_category_quota < 1):
            raise ValueError("category quotas must be >= 1")
        self.max_entries = max_entries
        self.dim = dim
        self.category_quota = quotas
        self.default_category_quota = default_category_quota
        self.ann_min_entries = ann_min_entries if HAVE_USEARCH else None
        self.offload_min_rows = offload_min_rows
        self.background_build = background_build
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()  # global LRU order, oldest first
        self._by_category: dict[str, OrderedDict[int, _Entry]] = {}  # per-category LRU order
        self._partitions: dict[str, _Partition] = {}
        self._slot_of: dict[int, int] = {}  # entry id -> row in its partition (graph results map back)
        self._expiry: list[tuple[float, int]] = []  # (expires, entry id) heap; stale items skipped
        self._stats = CacheStats()

    @classmethod
    def from_config(cls, cfg: CacheConfig) -> MemoryCache:
        """The backend the router builds for ``cache.backend: memory`` (category quotas included)."""
        quotas = {c: p.max_entries for c, p in cfg.categories.items() if p.max_entries is not None}
        return cls(cfg.max_entries, category_quota=quotas)

    # -- protocol -----------------------------------------------------------------------------------

    async def lookup(self, vector: Vector, partition: str, threshold: float, now: float) -> CacheHit | None:
        """Best live entry of ``partition`` at cosine ≥ ``threshold`` (threshold must be in (0, 1])."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        vec = self._check(vector)
        if self._offload(partition):
            return await asyncio.to_thread(self.lookup_sync, vec, partition, threshold, now)
        return self.lookup_sync(vec, partition, threshold, now)

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
        """Keep ``answer``; ``decision`` (optional) lets ``invalidate(decision=...)`` find the entry later."""
        if ttl_s <= 0:
            return  # nothing to keep: a zero TTL means "do not cache"
        vec = self._check(vector)
        self.store_sync(vec, partition, answer, ttl_s, category, now, decision=decision)

    async def invalidate(
        self,
        partition_prefix: str | None = None,
        older_than: float | None = None,
        decision: str | None = None,
    ) -> int:
        return self.invalidate_sync(partition_prefix, older_than, decision)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            st = self._stats
            return {
                "backend": "memory",
                "index": "usearch-hnsw+numpy" if self.ann_min_entries is not None else "numpy",
                "entries": len(self._entries),
                "max_entries": self.max_entries,
                "partitions": len(self._partitions),
                "hits": st.hits,
                "misses": st.misses,
                "stores": st.stores,
                "evictions": st.evictions,
                "expirations": st.expirations,
                "invalidations": st.invalidations,
                "per_category": {c or "none": len(d) for c, d in self._by_category.items() if d},
            }

    # -- synchronous core (also used by benchmarks) --------------------------------------------------

    def lookup_sync(self, vector: Vector, partition: str, threshold: float, now: float) -> CacheHit | None:
        with self._lock:
            self._sweep(now)
            part = self._partitions.get(partition)
            while part is not None and part.size:
                candidates = part.candidates(vector, threshold, self._slot_of)
                if not candidates:
                    break
                expired = False
                for sim, entry_id in candidates:
                    entry = self._entries[entry_id]
                    if entry.expires <= now:
                        self._drop(entry)
                        self._stats.expirations += 1
                        expired = True
                        continue
                    self._entries.move_to_end(entry_id)
                    self._by_category[entry.category].move_to_end(entry_id)
                    self._stats.hits += 1
                    return CacheHit(entry_id, min(sim, 1.0), entry.answer)
                if not expired:
                    break
                # every candidate had expired and was dropped: search again among the remaining rows
                part = self._partitions.get(partition)
            self._stats.misses += 1
            return None

    def store_sync(
        self,
        vector: Vector,
        partition: str,
        answer: CachedAnswer,
        ttl_s: float,
        category: str | None,
        now: float,
        *,
        decision: str | None = None,
    ) -> int:
        cat = category or ""
        build_now: _Partition | None = None
        with self._lock:
            self._sweep(now)
            quota = self.category_quota.get(cat, self.default_category_quota)
            while quota is not None and len(self._by_category.get(cat, ())) >= quota:
                self._drop(next(iter(self._by_category[cat].values())))
                self._stats.evictions += 1
            while len(self._entries) >= self.max_entries:
                self._drop(next(iter(self._entries.values())))
                self._stats.evictions += 1
            # fetched only now: an eviction above may have dropped the category's (or partition's) last
            # entry, and ``_drop`` then forgets its dict; an entry put into that orphan would be unreachable
            in_cat = self._by_category.setdefault(cat, OrderedDict())
            part = self._partitions.get(partition)
            if part is None:
                part = self._partitions[partition] = _Partition(partition, self.dim)
            entry_id = next(self._ids)
            slot = part.add(entry_id, vector)
            entry = _Entry(entry_id, part, slot, cat, decision, now, now + ttl_s, answer)
            self._entries[entry_id] = entry
            in_cat[entry_id] = entry
            self._slot_of[entry_id] = slot
            heapq.heappush(self._expiry, (entry.expires, entry_id))
            self._stats.stores += 1
            if (
                self.ann_min_entries is not None
                and part.graph is None
                and part.building is None
                and part.size >= self.ann_min_entries
            ):
                if self.background_build:
                    self._start_graph(part)
                else:
                    build_now = part
        if build_now is not None:  # synchronous build (tests): outside the lock, which the build takes
            self._start_graph(build_now, locked=False)
        return entry_id

    def invalidate_sync(
        self, partition_prefix: str | None = None, older_than: float | None = None, decision: str | None = None
    ) -> int:
        with self._lock:
            doomed = [
                e
                for e in self._entries.values()
                if (partition_prefix is None or e.partition.key.startswith(partition_prefix))
                and (older_than is None or e.created < older_than)
                and (decision is None or e.decision == decision)
            ]
            for e in doomed:
                self._drop(e)
            self._stats.invalidations += len(doomed)
            return len(doomed)

    def wait_for_graphs(self, timeout: float | None = None) -> None:
        """Block until background graph builds finish (benchmarks and tests)."""
        with self._lock:
            threads = [p.building.thread for p in self._partitions.values() if p.building and p.building.thread]
        for t in threads:
            t.join(timeout)

    def __len__(self) -> int:
        return len(self._entries)

    # -- internals ----------------------------------------------------------------------------------

    def _check(self, vector: Vector) -> Vector:
        vec = np.asarray(vector, dtype=_FLOAT)
        if vec.shape != (self.dim,):
            raise ValueError(f"expected a ({self.dim},) vector, got {vec.shape}")
        return vec

    def _offload(self, partition: str) -> bool:
        part = self._partitions.get(partition)  # a racy read is fine: it only picks where to run
        return part is not None and part.graph is None and part.high >= self.offload_min_rows

    def _drop(self, entry: _Entry) -> None:
        """Remove one entry everywhere (caller holds the lock); empty partitions are forgotten."""
        del self._entries[entry.id]
        del self._slot_of[entry.id]
        in_cat = self._by_category[entry.category]
        del in_cat[entry.id]
        if not in_cat:
            del self._by_category[entry.category]
        part = entry.partition
        part.remove(entry.id, entry.slot)
        if part.size == 0 and part.building is None and self._partitions.get(part.key) is part:
            del self._partitions[part.key]

    def _sweep(self, now: float, budget: int = 64) -> None:
        """Drop up to ``budget`` expired entries from the heap head: lazy, bounded work per call."""
        heap = self._expiry
        while budget and heap and heap[0][0] <= now:
            expires, entry_id = heapq.heappop(heap)
            entry = self._entries.get(entry_id)
            if entry is not None and entry.expires == expires:
                self._drop(entry)
                self._stats.expirations += 1
            budget -= 1
        if len(heap) > 2 * len(self._entries) + 1024:  # evictions leave stale items: compact now and then
            self._expiry = [(e.expires, e.id) for e in self._entries.values()]
            heapq.heapify(self._expiry)

    def _start_graph(self, part: _Partition, *, locked: bool = True) -> None:
        """Build the partition's HNSW graph from a snapshot, off the lock; brute force serves meanwhile.

        ``locked``: the caller holds the lock (background mode); otherwise the snapshot takes it.
        """
        with contextlib.nullcontext() if locked else self._lock:
            build = part.building = _GraphBuild()
            live = part.entry_of[: part.high] != _NO_ENTRY
            ids = part.entry_of[: part.high][live].copy()
            vectors = part.vectors[: part.high][live].copy()

        def run() -> None:
            graph = _new_graph(self.dim)
            try:
                # One thread, always: it leaves a core to serve, and usearch 2.26's multi-threaded build is
                # nondeterministic and worse. Built with 2 threads, a 300-row graph of random unit vectors
                # missed a near duplicate (cosine 0.97) in 16 of 100 builds (0.3% of queries). Built with
                # one thread, it missed none.
                graph.add(ids, vectors, threads=1)
            except Exception:  # a failed build leaves the partition on brute force; never loses entries
                log.exception("cache graph build failed for a partition of %d entries", len(ids))
                with self._lock:
                    part.building = None
                return
            with self._lock:
                for entry_id in build.removed:
                    if entry_id in graph:
                        graph.remove(entry_id)
                for entry_id in build.added:
                    if entry_id in self._slot_of and entry_id not in build.removed:
                        graph.add(entry_id, part.vectors[self._slot_of[entry_id]])
                part.graph = graph
                part.building = None
                if part.size == 0 and self._partitions.get(part.key) is part:
                    del self._partitions[part.key]

        if self.background_build:
            build.thread = threading.Thread(target=run, name="semrouter-cache-graph", daemon=True)
            build.thread.start()
        else:
            run()
