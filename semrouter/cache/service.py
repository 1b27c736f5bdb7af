"""The semantic cache's long-lived service: the backend, its counters, circuit breaker and store tasks.

The router makes one :class:`CacheService` and keeps it across config reloads unless the backend settings
change, while the cache *stage* (:mod:`semrouter.stages.cache`) is rebuilt with every config and only holds
policy. That is why the service lives here, beside the backends, and not with the stage: the router, the
admin API and the stage all use it, and none of them should reach into the request pipeline to get it.

* Every backend call has a deadline (``cache.timeout_s``) and a fault is never the client's problem: the
  request is served as if there were no cache, the fault is counted and logged (never with prompt text).
  After ``circuit_breaker.failures`` consecutive faults the backend is skipped for ``backoff_s`` (doubling
  while probes fail), so a dead backend costs its timeout a few times, not on every request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson

from semrouter.cache.base import BackendNotReady
from semrouter.cache.keys import partition_prefix
from semrouter.cache.registry import create_backend
from semrouter.errors import invalid_request

if TYPE_CHECKING:
    from semrouter.cache.base import CacheBackend
    from semrouter.cache.config import CacheConfig, CircuitBreakerSettings

log = logging.getLogger("semrouter.cache")

T = TypeVar("T")

_ADMIN_TIMEOUT_S = 30.0  # invalidate/flush may touch every entry: a person waits, not a request
DEFAULT_START_BOUND_S = 10.0  # readiness's wait for a backend whose start() has no start_timeout_s


class FaultSink(Protocol):
    """What :meth:`CacheService.call` needs of the request it serves: an id to log and a list to mark the
    fault in. A protocol, so the service does not depend on the per-request context."""

    @property
    def request_id(self) -> str: ...

    @property
    def faults(self) -> list[str]: ...


class BackendUnavailable(Exception):
    """The backend was skipped (``reason`` "circuit_open"), is still starting ("not_ready": not a fault) or
    failed ("fault": timeout or error, already counted and logged); the request goes on without the cache."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CacheCounters:
    """The service's counters at one moment, typed: what the metrics copy and the admin API reports.

    ``service_id`` tells services apart (a reload that changes the backend makes a new one, whose
    counters start again from zero). ``misses`` is read before ``near_misses``: the stage bumps
    ``near_misses`` first, so a read racing a lookup sees too few near misses, never too many.
    """

    service_id: int
    hits: int
    misses: int
    near_misses: int
    verifier_rejections: int
    follows: int  # hits served under another decision than routing chose (a verified duplicate followed)
    stores: int
    stores_in_flight: int
    bypasses: Mapping[str, int]
    store_skips: Mapping[str, int]
    faults: Mapping[str, int]  # by operation: lookup / store
    backend: Mapping[str, Any]  # the backend's own stats(), or {"error": ...} if it failed

    def _backend_int(self, name: str) -> int | None:
        value = self.backend.get(name)
        return value if isinstance(value, int) else None

    @property
    def entries(self) -> int | None:
        return self._backend_int("entries")

    @property
    def evictions(self) -> int | None:
        return self._backend_int("evictions")

    @property
    def expirations(self) -> int | None:
        return self._backend_int("expirations")


class CircuitBreaker:
    """Closed → (``failures`` consecutive faults) → open for a back-off → one probe → closed or open longer.

    Only one probe is let through at a time, so a burst of requests after the back-off does not pay the
    backend's timeout many times over.
    """

    def __init__(self) -> None:
        self.consecutive = 0
        self.open_until: float | None = None  # monotonic time; None: closed
        self.backoff = 0.0
        self.probing = False
        self.opened = 0  # how many times it opened (stats)

    def allow(self, now: float) -> bool:
        if self.open_until is None:
            return True
        if now < self.open_until or self.probing:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        self.consecutive = 0
        self.open_until = None
        self.backoff = 0.0
        self.probing = False

    def fault(self, settings: CircuitBreakerSettings, now: float) -> None:
        self.consecutive += 1
        if self.probing:  # the probe failed: stay open, longer
            self.probing = False
            self.backoff = min(self.backoff * 2, settings.max_backoff_s)
            self.open_until = now + self.backoff
            self.opened += 1
        elif self.open_until is None and self.consecutive >= settings.failures:
            self.backoff = settings.backoff_s
            self.open_until = now + self.backoff
            self.opened += 1

    def release(self) -> None:
        """The probe was abandoned (request cancelled) without an answer: let another request probe."""
        self.probing = False

    def state(self, now: float) -> dict[str, Any]:
        if self.open_until is None:
            name = "closed"
        elif now < self.open_until:
            name = "open"
        else:
            name = "half-open"
        return {
            "state": name,
            "consecutive_faults": self.consecutive,
            "open_for_s": round(max(0.0, (self.open_until or now) - now), 3),
            "opened": self.opened,
        }


class CacheService:
    """The backend and everything about it that outlives one config: counters, breaker, store tasks."""

    def __init__(self, backend: CacheBackend, settings: tuple[object, ...] = ()) -> None:
        self.backend = backend
        self.settings = settings  # CacheConfig.backend_settings() it was built from
        self.breaker = CircuitBreaker()
        self.hits = 0
        self.misses = 0
        self.near_misses = 0  # similar enough, but refused (lexical guard, or the verifier when it is on)
        self.verifier_rejections = 0  # of those, refused by the verifier (a candidate it judged another question)
        self.follows = 0  # of the hits, those that adopted the decision a verified duplicate was stored under
        self.stores = 0
        self.bypasses: Counter[str] = Counter()
        self.store_skips: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()  # by operation: lookup / store
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._warm: concurrent.futures.Future[Any] | None = None  # the backend's first set-up, if it says

    @classmethod
    def from_config(cls, cfg: CacheConfig) -> CacheService:
        """The router's service, started at once: the backend's set-up (opening Milvus Lite takes ~2 s)
        then overlaps the pipeline build and server start, at router start-up or while a reload builds."""
        service = cls(create_backend(cfg), cfg.backend_settings())
        service.start()
        return service

    async def call(
        self,
        op: str,
        make: Callable[[], Awaitable[T]],
        cfg: CacheConfig,
        ctx: FaultSink | None = None,
    ) -> T:
        """Run one backend operation under the deadline and the breaker; :class:`BackendUnavailable` if
        it was skipped or failed (counted and logged here, so callers just carry on without the cache)."""
        if not self.breaker.allow(time.monotonic()):
            raise BackendUnavailable("circuit_open")
        try:
            result = await asyncio.wait_for(make(), cfg.timeout_s)
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except BackendNotReady:
            self.breaker.release()  # neither a success nor a fault: a probe let through may go again
            raise BackendUnavailable("not_ready") from None
        except Exception as exc:
            self.faults[op] += 1
            self.breaker.fault(cfg.circuit_breaker, time.monotonic())
            if ctx is not None:
                ctx.faults.append("cache")
            what = f"timed out after {cfg.timeout_s:g}s" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("cache %s failed (%s) for request %s; going on without the cache", op, what, _rid(ctx))
            raise BackendUnavailable("fault") from None
        self.breaker.success()
        return result

    def start(self) -> None:
        """Let the backend begin its slow set-up (a Milvus connection) on its own thread, off any request;
        returns at once. Requests that come before it is done bypass the cache (``not_ready``)."""
        start = getattr(self.backend, "start", None)
        if start is not None and not self._started:
            self._started = True
            warm = start()
            if isinstance(warm, concurrent.futures.Future):
                self._warm = warm

    @property
    def start_bound_s(self) -> float:
        """How long readiness waits for the backend's first set-up: the backend knows what its set-up costs."""
        return float(getattr(self.backend, "start_timeout_s", DEFAULT_START_BOUND_S))

    async def wait_started(self, timeout_s: float | None = None) -> bool:
        """Wait (at most ``timeout_s``, by default :attr:`start_bound_s`) for the backend's first set-up
        attempt to end; ``True`` if it did.

        Readiness waits on this at start-up so a replica takes traffic with its cache connected, not
        bypassing it for the first seconds. Whether the attempt *worked* does not matter here: a cache
        that is down is bypassed per request, and must not keep the router out of service.
        """
        self.start()
        if self._warm is None:  # nothing slow to set up (or the backend does not say when it is done)
            return True
        warm = asyncio.wrap_future(self._warm)
        done, _ = await asyncio.wait([warm], timeout=self.start_bound_s if timeout_s is None else timeout_s)
        if warm in done and not warm.cancelled():
            warm.exception()  # retrieved: a failed first connect is reported by stats and per request
        return bool(done)

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends (so it is not collected)."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def counters(self) -> CacheCounters:
        try:
            backend: dict[str, Any] = self.backend.stats()
        except Exception as exc:
            backend = {"error": type(exc).__name__}
        return CacheCounters(
            service_id=id(self),
            hits=self.hits,
            misses=self.misses,  # before near_misses: see CacheCounters
            near_misses=self.near_misses,
            verifier_rejections=self.verifier_rejections,
            follows=self.follows,
            stores=self.stores,
            stores_in_flight=len(self._tasks),
            bypasses=dict(self.bypasses),
            store_skips=dict(self.store_skips),
            faults=dict(self.faults),
            backend=backend,
        )

    def stats(self) -> dict[str, Any]:
        c = self.counters()
        return {
            "enabled": True,
            "backend": c.backend,
            "stage": {
                "hits": c.hits,
                "misses": c.misses,
                "near_misses": c.near_misses,
                "verifier_rejections": c.verifier_rejections,
                "follows": c.follows,
                "bypasses": dict(c.bypasses),
                "faults": sum(c.faults.values()),
                "faults_by_operation": dict(c.faults),
                "stores": c.stores,
                "store_skips": dict(c.store_skips),
                "stores_in_flight": c.stores_in_flight,
                "circuit_breaker": self.breaker.state(time.monotonic()),
            },
        }

    async def invalidate(
        self, *, tenant: str | None = None, decision: str | None = None, older_than_s: float | None = None
    ) -> int:
        """Drop entries matching every given filter (none: all). ``tenant`` is the raw header value."""
        prefix = partition_prefix(tenant) if tenant is not None else None
        older_than = time.time() - older_than_s if older_than_s is not None else None
        coro = self.backend.invalidate(partition_prefix=prefix, older_than=older_than, decision=decision)
        return await asyncio.wait_for(coro, _ADMIN_TIMEOUT_S)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the background stores running now (shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def aclose(self, drain_s: float = 2.0) -> None:
        """Let running stores finish (briefly), then close the backend if it has something to close."""
        await self.drain(drain_s)
        for task in list(self._tasks):
            task.cancel()
        close = getattr(self.backend, "close", None) or getattr(self.backend, "aclose", None)
        if close is not None:
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # closing a broken backend must not stop the router's shutdown
                log.warning("closing the cache backend failed: %s", type(exc).__name__)

    def close_unused(self) -> None:
        """Close a service that never served (its config failed to build), from any thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.aclose(drain_s=0))
            return
        task = asyncio.ensure_future(self.aclose(drain_s=0))
        _closing.add(task)
        task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()


_FILTERS: dict[str, type | tuple[type, ...]] = {"tenant": str, "decision": str, "older_than_s": (int, float)}


def invalidate_filters(raw: bytes) -> dict[str, Any]:
    """The admin invalidate body: a JSON object with at least one of ``tenant`` (the raw header value),
    ``decision`` and ``older_than_s``; anything else is a 400 that says what is accepted."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid_request("The body must be a JSON object", code="invalid_body")
    unknown = sorted(set(body) - set(_FILTERS))
    if unknown:
        raise invalid_request(
            f"Unknown field(s) {unknown}; accepted: {sorted(_FILTERS)}", param=unknown[0], code="unknown_parameter"
        )
    for name, kind in _FILTERS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            expected = "a string" if kind is str else "a number of seconds"
            raise invalid_request(f"'{name}' must be {expected}", param=name, code="invalid_type")
    older = body.get("older_than_s")
    if older is not None and older < 0:
        raise invalid_request("'older_than_s' must be >= 0", param="older_than_s", code="invalid_value")
    filters = {k: v for k, v in body.items() if v is not None}
    if not filters:
        raise invalid_request(
            "Give at least one of 'tenant', 'decision', 'older_than_s' (POST /api/v1/cache/flush drops everything)",
            code="missing_required_parameter",
        )
    return filters


def _rid(ctx: FaultSink | None) -> str:
    return ctx.request_id if ctx is not None else "-"
