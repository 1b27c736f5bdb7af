"""Semantic-cache backend on Milvus: Milvus Lite embedded (a local ``.db`` file) or a Milvus server URI.

Why it is built this way (measured with pymilvus 2.5.18 / milvus-lite 2.5.1; numbers in
``bench/cache_backends.py`` and docs/benchmarks.md):

* **Partition isolation is in every query, and nothing the client sent is ever spliced into one.** Milvus
  filters are expression strings. Milvus Lite 2.5.1 does not support filter templating (``{p}`` +
  ``filter_params`` is a parse error), its string-literal escaping is partial (``\\n`` never matches), and a
  malformed ``like`` pattern crashed the embedded server in a probe. So the lookup filter compares
  ``pkey`` (sha256 hex of the partition key) with a hex literal, and ``decision_key`` likewise: whatever a
  partition or decision string contains, the expression only ever holds ``[0-9a-f]``. The raw partition is
  also stored (``partition``) for prefix invalidation, whose prefix must be ``[0-9A-Za-z:.-]`` (the stage's
  prefixes are ``"<16 hex>:"``); anything else is rejected with ``ValueError`` rather than escaped, because
  ``%``/``_``/quote escaping is exactly what Lite gets wrong.
* **TTL is a filter, expiry a background sweep.** Each row stores ``expires``; every lookup filters
  ``expires > now``, so an expired answer is never served whether or not it was deleted yet. Expired rows
  are deleted by one ``expires <= now`` delete at most every ``sweep_interval_s``, on a maintenance thread.
* **Exact similarity by default.** COSINE metric on a FLAT index (Milvus Lite accepts only FLAT, IVF_FLAT
  and AUTOINDEX; FLAT is exact), so the distance Milvus returns is the cosine the threshold is compared with.
  FLAT scans the partition (~400 ms at 1M rows), so a server may be given ``index: hnsw`` (``M``,
  ``efConstruction``, search ``ef``) or ``ivf_flat`` (``nlist``, search ``nprobe``; Lite has it too):
  approximate, still COSINE. The index is chosen when the collection is created; an existing collection
  keeps the one it has. ``hnsw`` on a Lite file is refused at construction (Lite would fail at create).
* **Never block the event loop, never hang.** pymilvus is synchronous, so calls run on a small dedicated
  thread pool. Every RPC carries a float gRPC deadline *and* ``retry_times=0``: pymilvus otherwise retries
  an unavailable server 75 times with back-off (a search on a dead server took 210 s in a probe), and an
  integer ``timeout`` turns into a retry loop of that many seconds. Calls beyond ``max_pending`` fail at
  once instead of queueing, and a queued call whose caller gave up (the stage's ``wait_for``) is cancelled
  before it runs, so threads cannot pile up behind a dead server.
* **Reconnect, don't wait for gRPC.** After a server restart an existing channel stays in gRPC's reconnect
  back-off for seconds (6 s+ in a probe). Any failed RPC therefore drops the connection; the next call
  opens a fresh one (one thread at a time; the others fail fast), and a failed connect closes the backend
  for ``retry_interval_s``. A restarted server is used again within about ``retry_interval_s``.
* **Connect at start-up, never inside a request.** Opening Milvus Lite takes ~2 s (it starts the embedded
  server) and the first insert and search on a fresh connection another ~0.2 s, far beyond a request's
  cache deadline (50 ms by default). ``start()`` (the cache service calls it as soon as it builds the
  backend, at router start-up or in a reload; otherwise the first call does) opens the connection,
  creates the collection and warms it up on the maintenance thread; until that first attempt ends,
  lookups and stores raise :class:`MilvusNotReady` at once, which the stage counts as a ``not_ready``
  bypass, not as a fault that could trip the breaker.
* **Ids** are random 63-bit integers, so several router processes can share one server collection. (A Lite
  file can only be opened by one process: use a server URI with ``server.workers > 1``.)
* **Capacity is enforced by the background sweep, oldest first.** ``max_entries`` and the per-category
  quotas (``categories.*.max_entries``) are checked at each sweep (every ``sweep_interval_s``, after the
  expired rows went): a category over its quota loses its oldest rows (by ``created``) down to the quota,
  then the collection its oldest rows down to ``max_entries``. So a category cannot push the others out,
  as in the memory backend, with two honest differences: between sweeps the count may run over by what
  was stored since, and "oldest" is by creation, not last use (recording every hit would be a write per
  lookup). Quota'd category names go into the filter as literals, so they are limited to
  ``[A-Za-z0-9 _.:-]`` (a config with another name is refused, not escaped).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import importlib
import itertools
import logging
import os
import pathlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from semrouter.cache.base import BackendNotReady, CachedAnswer, CacheHit, Vector, finite_literal, key_digest

if TYPE_CHECKING:
    from semrouter.cache.config import CacheConfig

log = logging.getLogger("semrouter.cache.milvus")

T = TypeVar("T")

_ANSWER_FIELDS = frozenset(f.name for f in dataclasses.fields(CachedAnswer))
_SAFE_PREFIX = re.compile(r"[0-9A-Za-z:.\-]*")
_LITE_NAME = re.compile(r"[a-zA-Z0-9.\-_]{1,36}")  # what milvus_lite.server.Server accepts as a file name
_RAW_CHARS = 256  # raw partition / decision / category kept for prefix matching and inspection
_RAW_BYTES = 4 * _RAW_CHARS  # VARCHAR max_length counts bytes; utf-8 is at most 4 per character
_aliases = itertools.count(1)
_SENTINEL_ID = -1  # the warm-up row's id; real ids are >= 0
_SAFE_CATEGORY = re.compile(rf"[A-Za-z0-9 _.:\-]{{1,{_RAW_CHARS}}}")
_TRIM_BATCH = 1000  # ids per delete when trimming (one expression of ~20 kB)
_INDEXES = {"flat": "FLAT", "hnsw": "HNSW", "ivf_flat": "IVF_FLAT"}  # config name -> Milvus index type


class MilvusUnavailable(RuntimeError):
    """Milvus cannot answer now (down, reconnect cooling down, or every worker thread busy).

    The cache stage treats it like a timeout: the request is served without the cache and the fault counted.
    """


class MilvusNotReady(MilvusUnavailable, BackendNotReady):
    """The first connection is still being opened in the background (see ``MilvusCache.start``)."""


def encode_answer(answer: CachedAnswer) -> dict[str, Any]:
    """Every dataclass field, by name: a field added to :class:`CachedAnswer` later is stored without a
    schema change (the column is JSON)."""
    return {f.name: getattr(answer, f.name) for f in dataclasses.fields(answer)}


def decode_answer(data: dict[str, Any]) -> CachedAnswer:
    """The inverse of :func:`encode_answer`; unknown keys (a newer writer) are ignored, missing ones take
    their defaults."""
    return CachedAnswer(**{k: v for k, v in data.items() if k in _ANSWER_FIELDS})


def _is_local_file(uri: str) -> bool:
    return "://" not in uri and not uri.startswith("unix:")


def _import_pymilvus() -> Any:
    """pymilvus, imported on first use (it pulls in grpc and pandas: ~0.5 s) with its console logging muted.

    pymilvus installs its own stream handlers and logs every failed RPC at ERROR; this backend reports
    failures itself (one warning per outage) and the stage counts them, so an outage does not flood the log.
    """
    pymilvus = importlib.import_module("pymilvus")  # untyped package: used as Any
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


class MilvusCache:
    """The Milvus cache backend (see the module docstring for the design and its reasons).

    ``uri``: a local file ending in ``.db`` (Milvus Lite, started inside this process by ``start()``) or
    ``http://host:port``. ``timeout_s``: gRPC deadline of a lookup or store; ``admin_timeout_s``: of
    invalidation, sweeps and counts; ``connect_timeout_s``: of opening a connection (and creating the
    collection on first use). ``retry_interval_s``: how long a failed connect keeps the backend closed.
    ``max_entries`` / ``category_quota``: capacity, enforced oldest-first by the sweep (``None``/empty: none).
    """

    def __init__(
        self,
        uri: str,
        *,
        collection: str = "semrouter_cache",
        token: str | None = None,
        dim: int = 384,
        timeout_s: float = 0.5,
        admin_timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        retry_interval_s: float = 1.0,
        sweep_interval_s: float = 60.0,
        stats_interval_s: float = 10.0,
        max_workers: int = 4,
        max_pending: int | None = None,
        max_entries: int | None = None,
        category_quota: dict[str, int] | None = None,
        index: str = "flat",
        index_params: dict[str, int] | None = None,
        search_params: dict[str, int] | None = None,
    ) -> None:
        if index not in _INDEXES:
            raise ValueError(f"Milvus index '{index}': one of {sorted(_INDEXES)}")
        if index == "hnsw" and _is_local_file(uri):
            raise ValueError("Milvus Lite offers no HNSW index: use index: flat or ivf_flat, or a Milvus server URI")
        self.index = index
        self.index_params = dict(index_params or {})
        self.search_params = dict(search_params or {})
        if _is_local_file(uri):
            name = pathlib.Path(uri).name
            if not uri.endswith(".db") or not _LITE_NAME.fullmatch(name):
                raise ValueError(
                    f"Milvus Lite file '{uri}': the name must end in .db, be at most 36 characters and use "
                    "only letters, digits, '.', '-' and '_' (or give an http://host:port server URI)"
                )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", collection):
            raise ValueError(f"invalid Milvus collection name '{collection}'")
        for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        quotas = dict(category_quota or {})
        for category, quota in quotas.items():
            if not _SAFE_CATEGORY.fullmatch(category):
                raise ValueError(
                    f"cache.categories.{category!r}.max_entries: with the milvus backend, a category with a quota "
                    f"must be named with letters, digits, spaces, '_', '.', ':' or '-' (at most {_RAW_CHARS})"
                )
            if quota < 1:
                raise ValueError(f"cache.categories.{category!r}.max_entries must be >= 1")
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self.category_quota = quotas
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.timeout_s = float(timeout_s)  # a float: pymilvus reads an int timeout as a retry budget
        self.admin_timeout_s = float(admin_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.retry_interval_s = retry_interval_s
        self.sweep_interval_s = sweep_interval_s
        self.stats_interval_s = stats_interval_s
        self.max_pending = max_pending if max_pending is not None else 4 * max_workers
        self._token = token or ""
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="semrouter-milvus")
        self._maint = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="semrouter-milvus-maint")
        self._lock = threading.Lock()  # counters, pending count, connection state
        self._connect_lock = threading.Lock()
        self._client: Any = None
        self._warm: concurrent.futures.Future[None] | None = None  # the first connect, started by start()
        self._alias = ""
        self._retry_at = 0.0  # monotonic time before which no connect is attempted
        self._down_since: float | None = None
        self._last_error = ""
        self._pending = 0
        self._maint_busy = False
        self._next_sweep = 0.0  # monotonic
        self._entries = 0
        self._entries_at: float | None = None  # monotonic time of the last count(*)
        counters = ["hits", "misses", "stores", "expirations", "evictions", "invalidations", "errors", "timeouts"]
        self._counts = dict.fromkeys((*counters, "rejected", "reconnects"), 0)
        self._closed = False

    @classmethod
    def from_config(cls, cfg: CacheConfig) -> MilvusCache:
        m = cfg.milvus
        token = os.environ.get(m.token_env) if m.token_env else None
        if m.token_env and not token:
            log.warning("cache.milvus.token_env names %s, which is not set: connecting without a token", m.token_env)
        return cls(
            m.uri,
            collection=m.collection,
            token=token,
            timeout_s=cfg.timeout_s,
            connect_timeout_s=m.connect_timeout_s,
            retry_interval_s=m.retry_interval_s,
            sweep_interval_s=m.sweep_interval_s,
            max_entries=cfg.max_entries,
            category_quota={c: p.max_entries for c, p in cfg.categories.items() if p.max_entries is not None},
            index=m.index,
            index_params=(
                {"M": m.hnsw.m, "efConstruction": m.hnsw.ef_construction}
                if m.index == "hnsw"
                else {"nlist": m.ivf.nlist}
                if m.index == "ivf_flat"
                else {}
            ),
            search_params={"ef": m.hnsw.ef_runtime}
            if m.index == "hnsw"
            else {"nprobe": m.ivf.nprobe}
            if m.index == "ivf_flat"
            else {},
        )

    # -- protocol -----------------------------------------------------------------------------------

    async def lookup(self, vector: Vector, partition: str, threshold: float, now: float) -> CacheHit | None:
        """Best live entry of ``partition`` at cosine ≥ ``threshold`` (threshold must be in (0, 1])."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        vec = self._check(vector)
        expr = f'pkey == "{key_digest(partition)}" and expires > {finite_literal(now)}'
        self._maybe_sweep(now)
        hit = await self._run(self._search, vec, expr, threshold)
        with self._lock:
            self._counts["hits" if hit is not None else "misses"] += 1
        return hit

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
        """Keep ``answer`` until ``now + ttl_s``; ``decision`` lets ``invalidate(decision=...)`` find it."""
        if ttl_s <= 0:
            return  # a zero TTL means "do not cache"
        row = self._row(self._check(vector), partition, answer, ttl_s, category, now, decision)
        self._maybe_sweep(now)
        await self._run(lambda c: c.insert(self.collection, [row], timeout=self.timeout_s, retry_times=0))
        with self._lock:
            self._counts["stores"] += 1
            self._entries += 1

    async def invalidate(
        self,
        partition_prefix: str | None = None,
        older_than: float | None = None,
        decision: str | None = None,
    ) -> int:
        """Drop matching entries (none given: all). ``partition_prefix`` must match ``[0-9A-Za-z:.-]*``."""
        clauses = ["id >= 0"]  # ids are non-negative: with no other clause this is "everything"
        if partition_prefix is not None:
            if len(partition_prefix) > _RAW_CHARS or not _SAFE_PREFIX.fullmatch(partition_prefix):
                raise ValueError("partition_prefix may only contain letters, digits, ':', '.' and '-'")
            if partition_prefix:
                clauses.append(f'partition like "{partition_prefix}%"')
        if older_than is not None:
            clauses.append(f"created < {finite_literal(older_than)}")
        if decision is not None:
            clauses.append(f'decision_key == "{key_digest(decision)}"')
        dropped = await self._run(self._delete, " and ".join(clauses), admin=True)
        with self._lock:
            self._counts["invalidations"] += dropped
            self._entries = max(0, self._entries - dropped)
        return dropped

    def stats(self) -> dict[str, Any]:
        """Counters; ``entries`` is approximate (a background ``count(*)`` at most every ``stats_interval_s``,
        adjusted by this process's stores and deletes since), so this never waits on Milvus."""
        self._maybe_count()
        with self._lock:
            return {
                "backend": "milvus",
                "uri": self.uri if _is_local_file(self.uri) else re.sub(r"//[^@/]*@", "//", self.uri),
                "collection": self.collection,
                "index": "FLAT (exact COSINE)"
                if self.index == "flat"
                else f"{_INDEXES[self.index]} (COSINE, "
                f"{', '.join(f'{k}={v}' for k, v in {**self.index_params, **self.search_params}.items())})",
                "entries": self._entries,
                "entries_approximate": True,
                "entries_counted_s_ago": (
                    round(time.monotonic() - self._entries_at, 1) if self._entries_at is not None else None
                ),
                "connected": self._client is not None,
                "starting": not self.ready,
                "down_for_s": round(time.monotonic() - self._down_since, 1) if self._down_since else None,
                "last_error": self._last_error or None,
                "pending_calls": self._pending,
                **self._counts,
            }

    # -- extras (tests, admin, shutdown) -------------------------------------------------------------

    def start(self) -> concurrent.futures.Future[None]:
        """Begin opening the connection (and creating the collection) on the maintenance thread; returns at
        once. Idempotent: the future of the first attempt (``MilvusUnavailable`` if it failed)."""
        with self._lock:
            if self._warm is None:
                try:
                    self._warm = self._maint.submit(self._client_or_raise, True)
                except RuntimeError:  # closed
                    self._warm = concurrent.futures.Future()
                    self._warm.set_exception(MilvusUnavailable("the Milvus cache backend is closed"))
            return self._warm

    @property
    def start_timeout_s(self) -> float:
        """How long the first ``start()`` may take: its connect timeout plus ~5 s to spawn an embedded
        Milvus Lite (opening one takes ~2 s). Readiness waits this long at most."""
        return self.connect_timeout_s + 5.0

    @property
    def ready(self) -> bool:
        """The first connection attempt has ended (whether it worked: ``stats()["connected"]``)."""
        return self._warm is not None and self._warm.done()

    async def connect(self) -> None:
        """Open the connection (and create the collection) now and wait for it (tests, admin)."""
        warm = asyncio.wrap_future(self.start())
        await asyncio.wait([warm])
        if not warm.cancelled():
            warm.exception()  # retrieved here; the call below reports a failure with its reason
        await self._run(lambda c: None, admin=True)

    async def sweep(self, now: float) -> int:
        """Delete the entries expired at ``now``, then the oldest beyond the quotas and ``max_entries``;
        returns how many went (normally runs by itself, every ``sweep_interval_s``)."""
        return await self._run(self._sweep, now, admin=True)

    async def count(self) -> int:
        """Exact number of rows, expired ones not yet swept included (one ``count(*)`` query)."""
        n = await self._run(self._count, admin=True)
        with self._lock:
            self._entries, self._entries_at = n, time.monotonic()
        return n

    async def bulk_load(
        self,
        vectors: npt.NDArray[np.float32],
        partition: str,
        answer: CachedAnswer,
        ttl_s: float,
        now: float,
        *,
        category: str | None = None,
        decision: str | None = None,
        batch: int = 1000,
    ) -> None:
        """Store many vectors with one answer into one partition (benchmarks, warm-up), ``batch`` rows per RPC.

        Batches stay small on purpose: one 5,000-row insert took Milvus Lite ~30 s, 1,000-row ones ~0.1 s.
        """
        for start in range(0, len(vectors), batch):
            rows = [
                self._row(self._check(v), partition, answer, ttl_s, category, now, decision)
                for v in vectors[start : start + batch]
            ]
            await self._run(
                lambda c, rows=rows: c.insert(self.collection, rows, timeout=self.admin_timeout_s, retry_times=0),
                admin=True,
            )
            with self._lock:
                self._counts["stores"] += len(rows)
                self._entries += len(rows)

    async def drop_collection(self) -> None:
        """Delete the whole collection, schema and all (benchmarks, tests); the next connect recreates it."""
        await self._run(lambda c: c.drop_collection(self.collection, timeout=self.admin_timeout_s), admin=True)
        with self._lock:
            self._drop_connection_locked()  # its collection is gone: a later call reconnects and recreates
            self._entries = 0

    def close(self) -> None:
        """Drop the connection and stop the threads; calls already running finish within their deadline."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._maint.shutdown(wait=False, cancel_futures=True)
        with self._lock:  # a connect still running sees _closed and closes what it opened
            self._drop_connection_locked()

    # -- thread side ----------------------------------------------------------------------------------

    async def _run(self, op: Callable[..., T], *args: Any, admin: bool = False) -> T:
        """Run ``op(client, *args)`` on the pool; fail at once if too many calls are already waiting.

        Cancelling the awaiting coroutine (the stage's timeout) cancels the pool job if it has not started.
        """
        if self._closed:
            raise MilvusUnavailable("the Milvus cache backend is closed")
        if not admin and self._client is None and not self.ready:
            self.start()  # no-op once started; a backend nobody started (a reload built it) starts here
            raise MilvusNotReady("the first connection to Milvus is still being opened")
        with self._lock:
            if self._pending >= self.max_pending and not admin:
                self._counts["rejected"] += 1
                raise MilvusUnavailable(f"{self._pending} Milvus calls already pending")
            self._pending += 1
        try:
            fut = self._pool.submit(self._call, op, args, admin)
        except RuntimeError:  # shut down between the check and the submit
            with self._lock:
                self._pending -= 1
            raise MilvusUnavailable("the Milvus cache backend is closed") from None
        fut.add_done_callback(self._done)
        return await asyncio.wrap_future(fut)

    def _done(self, _fut: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    def _call(self, op: Callable[..., T], args: tuple[Any, ...], admin: bool) -> T:
        client = self._client_or_raise(admin)
        try:
            return op(client, *args)
        except ValueError:
            raise
        except Exception as exc:
            # A failed RPC drops the connection: a fresh channel reconnects at once, while the old one would
            # sit in gRPC's reconnect back-off after a server restart. A deadline alone does not: the server
            # answered too slowly, the channel is fine, and reconnecting per slow call would only add load.
            slow = _is_deadline(exc)
            with self._lock:
                self._counts["timeouts" if slow else "errors"] += 1
                self._last_error = _describe(exc)
                if self._client is client and not slow:
                    self._drop_connection_locked()
            raise MilvusUnavailable(f"Milvus call failed: {_describe(exc)}") from exc

    def _client_or_raise(self, wait: bool = False) -> Any:
        """The open client, connecting if there is none. ``wait`` (admin calls, the first connect): wait for
        a connect another thread is running; otherwise fail fast while one runs."""
        client = self._client
        if client is not None:
            return client
        if time.monotonic() < self._retry_at:
            raise MilvusUnavailable(f"Milvus is unreachable ({self._last_error}); next attempt shortly")
        if not self._connect_lock.acquire(blocking=wait, timeout=2 * self.connect_timeout_s if wait else -1):
            raise MilvusUnavailable("connecting to Milvus")
        try:
            if self._client is not None:
                return self._client
            if time.monotonic() < self._retry_at:  # the connect we waited for failed just now
                raise MilvusUnavailable(f"Milvus is unreachable ({self._last_error}); next attempt shortly")
            try:
                client, alias = self._open()
            except Exception as exc:
                with self._lock:
                    self._retry_at = time.monotonic() + self.retry_interval_s
                    self._last_error = _describe(exc)
                    if self._down_since is None:
                        self._down_since = time.monotonic()
                        log.warning("Milvus cache backend %s unreachable: %s", self.collection, self._last_error)
                raise MilvusUnavailable(f"cannot connect to Milvus: {_describe(exc)}") from exc
            with self._lock:
                if self._closed:
                    _close_quietly(client)
                    raise MilvusUnavailable("the Milvus cache backend is closed")
                self._client, self._alias = client, alias
                self._counts["reconnects"] += 1
                if self._down_since is not None:
                    log.warning("Milvus cache backend %s reachable again", self.collection)
                self._down_since = None
            return client
        finally:
            self._connect_lock.release()

    def _open(self) -> tuple[Any, str]:
        """A new connection (own alias, so closing it never touches another client's) and the collection."""
        pymilvus = _import_pymilvus()
        uri = self.uri
        if _is_local_file(uri):
            uri = str(pathlib.Path(uri).resolve())
            _revive_lite(uri)
        alias = f"semrouter-cache-{os.getpid()}-{next(_aliases)}"
        client = pymilvus.MilvusClient(uri, token=self._token, timeout=self.connect_timeout_s, alias=alias)
        try:
            self._ensure_collection(pymilvus, client)
            self._warm_up(client)
        except Exception:
            _close_quietly(client)
            raise
        return client, alias

    def _warm_up(self, client: Any) -> None:
        """One insert, search and delete of a sentinel row, so the first request's calls are not the slow
        ones: on a fresh Milvus Lite connection the first insert took ~50 ms and the first search ~120-200 ms
        (then 3-10 ms), over the default 50 ms cache deadline. The sentinel (id -1, empty ``pkey``, expired)
        can never be found by a lookup nor counted by a flush (``id >= 0``) even if the delete is lost."""
        t = self.connect_timeout_s
        vec = np.full(self.dim, self.dim**-0.5, dtype=np.float32)
        row = self._row(vec, "", CachedAnswer(None, "", 0.0), 1.0, None, 0.0, None)
        row["id"] = _SENTINEL_ID
        client.insert(self.collection, [row], timeout=t, retry_times=0)
        client.search(
            self.collection,
            [vec],
            filter='pkey == ""',
            limit=1,
            output_fields=["answer"],
            search_params={"metric_type": "COSINE"},
            consistency_level="Strong",
            timeout=t,
            retry_times=0,
        )
        client.delete(self.collection, filter=f"id == {_SENTINEL_ID}", timeout=t, retry_times=0)

    def _ensure_collection(self, pymilvus: Any, client: Any) -> None:
        t = self.connect_timeout_s
        if client.has_collection(self.collection, timeout=t, retry_times=0):
            desc = client.describe_collection(self.collection, timeout=t, retry_times=0)
            fields = {f["name"]: f for f in desc["fields"]}
            dim = int(fields.get("vector", {}).get("params", {}).get("dim", -1))
            missing = {"pkey", "partition", "decision_key", "expires", "created", "answer"} - set(fields)
            if dim != self.dim or missing:
                raise ValueError(
                    f"Milvus collection '{self.collection}' exists with another schema (vector dim {dim}, "
                    f"missing fields {sorted(missing)}): drop it or configure another collection name"
                )
            client.load_collection(self.collection, timeout=t, retry_times=0)
            return
        dt = pymilvus.DataType
        schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.INT64, is_primary=True)
        schema.add_field("vector", dt.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("pkey", dt.VARCHAR, max_length=64)
        schema.add_field("partition", dt.VARCHAR, max_length=_RAW_BYTES)
        schema.add_field("decision_key", dt.VARCHAR, max_length=64)
        schema.add_field("decision", dt.VARCHAR, max_length=_RAW_BYTES)
        schema.add_field("category", dt.VARCHAR, max_length=_RAW_BYTES)
        schema.add_field("created", dt.DOUBLE)
        schema.add_field("expires", dt.DOUBLE)
        schema.add_field("answer", dt.JSON)
        index = client.prepare_index_params()
        index.add_index("vector", index_type=_INDEXES[self.index], metric_type="COSINE", params=self.index_params)
        try:
            client.create_collection(
                self.collection, schema=schema, index_params=index, consistency_level="Strong", timeout=t
            )
        except Exception:
            # another process may have created it at the same moment: fine if it exists now
            if not client.has_collection(self.collection, timeout=t, retry_times=0):
                raise
            client.load_collection(self.collection, timeout=t, retry_times=0)

    def _drop_connection_locked(self) -> None:
        if self._client is not None:
            _close_quietly(self._client)
        self._client, self._alias = None, ""

    # -- operations (run on a pool thread with a client) ----------------------------------------------

    def _search(self, client: Any, vec: Vector, expr: str, threshold: float) -> CacheHit | None:
        res = client.search(
            self.collection,
            [vec],
            filter=expr,
            limit=1,
            output_fields=["answer"],
            search_params={"metric_type": "COSINE", "params": self.search_params},
            consistency_level="Strong",
            timeout=self.timeout_s,
            retry_times=0,
        )
        if not res or not res[0]:
            return None
        top = res[0][0]
        similarity = float(top["distance"])
        if similarity < threshold:
            return None
        try:
            answer = decode_answer(top["entity"]["answer"])
        except (TypeError, KeyError) as exc:  # a row written by an incompatible version: treat as a miss
            log.warning("unreadable Milvus cache entry %s: %s", top.get("id"), type(exc).__name__)
            return None
        return CacheHit(int(top["id"]), min(similarity, 1.0), answer)

    def _delete(self, client: Any, expr: str) -> int:
        res = client.delete(self.collection, filter=expr, timeout=self.admin_timeout_s, retry_times=0)
        # pymilvus returns the deleted primary keys when the server lists them (Milvus Lite does), else a count
        return len(res) if isinstance(res, list) else int(res.get("delete_count", 0))

    def _count(self, client: Any, expr: str = "") -> int:
        res = client.query(
            self.collection,
            filter=expr,
            output_fields=["count(*)"],
            consistency_level="Strong",
            timeout=self.admin_timeout_s,
            retry_times=0,
        )
        return int(res[0]["count(*)"])

    # -- maintenance ----------------------------------------------------------------------------------

    def _maybe_sweep(self, now: float) -> None:
        """Delete expired rows in the background, at most every ``sweep_interval_s``; never waits."""
        mono = time.monotonic()
        if mono < self._next_sweep or self._client is None:
            return
        self._next_sweep = mono + self.sweep_interval_s

        self._background(lambda client: self._sweep(client, now))

    def _sweep(self, client: Any, now: float) -> int:
        """Expiry, then capacity (the quotas first, as the memory backend evicts): rows deleted."""
        expired = self._delete(client, f"expires <= {finite_literal(now)}")
        self._count_expired(expired)
        evicted = sum(self._trim(client, f'category == "{c}"', q) for c, q in self.category_quota.items())
        if self.max_entries is not None:
            evicted += self._trim(client, "id >= 0", self.max_entries)  # the warm-up sentinel (id -1) is not
        with self._lock:
            self._counts["evictions"] += evicted
            self._entries = max(0, self._entries - evicted)
        return expired + evicted

    def _trim(self, client: Any, expr: str, keep: int) -> int:
        """Delete the oldest rows matching ``expr`` (by ``created``) until ``keep`` are left; rows deleted.

        One ``count(*)`` when under the limit (the usual case); over it, the matching rows' ids and creation
        times are read with a query iterator (16 bytes a row) and the oldest deleted by id, in batches.
        """
        if self._count(client, expr) <= keep:
            return 0
        ids: list[int] = []
        created: list[float] = []
        it = client.query_iterator(
            self.collection, batch_size=5000, filter=expr, output_fields=["created"], timeout=self.admin_timeout_s
        )
        try:
            while batch := it.next():
                ids.extend(int(r["id"]) for r in batch)
                created.extend(float(r["created"]) for r in batch)
        finally:
            it.close()
        excess = len(ids) - keep
        if excess <= 0:
            return 0
        oldest = np.argsort(np.asarray(created), kind="stable")[:excess]
        doomed = np.asarray(ids, dtype=np.int64)[oldest]
        dropped = 0
        for start in range(0, len(doomed), _TRIM_BATCH):
            chunk = ", ".join(str(int(i)) for i in doomed[start : start + _TRIM_BATCH])
            dropped += self._delete(client, f"id in [{chunk}]")
        return dropped

    def _maybe_count(self) -> None:
        at = self._entries_at
        if self._client is None or (at is not None and time.monotonic() - at < self.stats_interval_s):
            return

        def count(client: Any) -> None:
            n = self._count(client)
            with self._lock:
                self._entries, self._entries_at = n, time.monotonic()

        self._background(count)

    def _background(self, job: Callable[[Any], object]) -> None:
        """Run ``job(client)`` on the maintenance thread unless one is already running; failures only logged."""
        with self._lock:
            if self._maint_busy or self._closed:
                return
            self._maint_busy = True

        def run() -> None:
            try:
                client = self._client
                if client is not None:
                    job(client)
            except Exception as exc:  # maintenance is best effort; the next request path reconnects
                log.info("Milvus cache maintenance failed: %s", _describe(exc))
            finally:
                with self._lock:
                    self._maint_busy = False

        try:
            self._maint.submit(run)
        except RuntimeError:  # closed meanwhile
            with self._lock:
                self._maint_busy = False

    def _count_expired(self, dropped: int) -> None:
        with self._lock:
            self._counts["expirations"] += dropped
            self._entries = max(0, self._entries - dropped)

    def _row(
        self,
        vec: Vector,
        partition: str,
        answer: CachedAnswer,
        ttl_s: float,
        category: str | None,
        now: float,
        decision: str | None,
    ) -> dict[str, Any]:
        return {
            "id": secrets.randbits(63),
            "vector": vec,
            "pkey": key_digest(partition),
            "partition": partition[:_RAW_CHARS],
            "decision_key": key_digest(decision) if decision is not None else "",
            "decision": (decision or "")[:_RAW_CHARS],
            "category": (category or "")[:_RAW_CHARS],
            "created": float(now),
            "expires": float(finite_literal(now + ttl_s)),
            "answer": encode_answer(answer),
        }

    def _check(self, vector: Vector) -> Vector:
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise ValueError(f"expected a ({self.dim},) vector, got {vec.shape}")
        return vec


def _describe(exc: BaseException) -> str:
    """A short, single-line reason: pymilvus messages embed whole gRPC debug strings."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    details = re.search(r'details = "([^"]*)"', str(exc))
    if details:
        text = details.group(1)
    return f"{type(exc).__name__}: {' '.join(str(text).split())[:200]}"


def _is_deadline(exc: BaseException) -> bool:
    """A gRPC DEADLINE_EXCEEDED (pymilvus lets that one through as the raw ``grpc.RpcError``)."""
    code = getattr(exc, "code", None)
    with contextlib.suppress(Exception):
        return callable(code) and getattr(code(), "name", "") == "DEADLINE_EXCEEDED"
    return False


def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.close()


def _revive_lite(path: str) -> None:
    """Restart this process's embedded Milvus Lite for ``path`` if its server process died.

    pymilvus keeps one Lite server per file per process and would hand out the dead one's socket forever.
    """
    with contextlib.suppress(Exception):
        manager = importlib.import_module("milvus_lite.server_manager").server_manager_instance
        server = manager._servers.get(str(pathlib.Path(path).absolute().resolve()))
        proc = getattr(server, "_p", None)
        if proc is not None and proc.poll() is not None:
            log.warning("embedded Milvus Lite for %s had exited (code %s): restarting it", path, proc.returncode)
            manager.release_server(path)
