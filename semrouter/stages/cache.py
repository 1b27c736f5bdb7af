"""The semantic-cache stage: answer from the cache before the worker is called, keep good answers after.

Where it runs: after selection (the partition needs the decision and the selected model) and after the
guard policy (a request with PII is marked ``ctx.cache_bypass`` and never touches the cache), but before
enrichment, so the key describes the request as the client sent it. It is not ``routing_only``:
explicit-model requests are cached too, partitioned by that model. Only chat completions are cached
(bypass reason ``api``): legacy ``/v1/completions`` is rare enough not to warrant its own replay format, and
embeddings are cheap and deterministic.

Why the pieces are split this way:

* :class:`CacheService` is long-lived (the router makes one and keeps it across config reloads unless the
  backend settings change): the backend with its entries, the counters the admin API reports, the
  circuit breaker and the background store tasks. A :class:`CacheStage` is rebuilt with every config
  and only holds policy.
* Every backend call has a deadline (``cache.timeout_s``) and a fault is never the client's problem: the
  request is served as if there were no cache, the fault is counted and logged (never with prompt text).
  After ``circuit_breaker.failures`` consecutive faults the backend is skipped for ``backoff_s`` (doubling
  while probes fail), so a dead backend costs its timeout a few times, not on every request.
* A candidate is served only if it is the *same question*: the backend returns the most similar entry above
  a permissive cosine (``cache.verifier.min_similarity``) and :mod:`semrouter.cache.verify` reads both
  texts and decides (the lexical guard is one of its inputs; with the verifier off, the guard alone
  decides above the policy's threshold). The verifier runs only on a candidate, never on a miss with no
  candidate. A hit reports ``x-vsr-cache-similarity`` and ``x-vsr-cache-verifier``; refused candidates
  count as ``near_misses`` (``verifier_rejections`` when the verifier refused), and the decision log gets
  both numbers either way.
* The store happens in ``on_response`` from the kept answer bytes, as a background task: the client
  already has its answer and waits for nothing. Stores are transport-neutral (the ext_proc adapter calls
  the same ``on_response``), and so are hits (a :class:`LocalResponse`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from semrouter import cpu
from semrouter.cache.answer import Unstorable, iterate, parse_answer, to_json, to_sse
from semrouter.cache.base import BackendNotReady
from semrouter.cache.keys import cacheability, partition_key, partition_prefix
from semrouter.cache.match import compatible, normalize
from semrouter.cache.registry import create_backend
from semrouter.cache.verify import Verifier
from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.errors import invalid_request
from semrouter.pipeline import Stage
from semrouter.signals.base import SignalResult

if TYPE_CHECKING:
    from semrouter.cache.base import CacheBackend, CacheHit, Vector
    from semrouter.cache.config import CacheConfig, CircuitBreakerSettings
    from semrouter.config.schema import RouterConfig

log = logging.getLogger("semrouter.cache")

T = TypeVar("T")

DRY_RUN = "dry_run"
"""``ctx.cache_bypass`` value a dry run sets: look up (to report what would happen), never answer or store."""
LOOKUP_RESULT = "cache_lookup"
"""Where a dry run's lookup result goes in ``ctx.signals`` (as the tool stage reports its ranking)."""
HIT_HEADER = "x-vsr-cache-hit"
SIMILARITY_HEADER = "x-vsr-cache-similarity"
VERIFIER_HEADER = "x-vsr-cache-verifier"
"""On a hit: the verifier's P(same question) for the served entry (absent when the verifier is off)."""
_ADMIN_TIMEOUT_S = 30.0  # invalidate/flush may touch every entry: a person waits, not a request
DEFAULT_START_BOUND_S = 10.0  # readiness's wait for a backend whose start() has no start_timeout_s


class BackendUnavailable(Exception):
    """The backend was skipped (``reason`` "circuit_open"), is still starting ("not_ready": not a fault) or
    failed ("fault": timeout or error, already counted and logged); the request goes on without the cache."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        ctx: RequestContext | None = None,
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

    def stats(self) -> dict[str, Any]:
        try:
            backend: dict[str, Any] = self.backend.stats()
        except Exception as exc:
            backend = {"error": type(exc).__name__}
        return {
            "enabled": True,
            "backend": backend,
            "stage": {
                "hits": self.hits,
                "misses": self.misses,
                "near_misses": self.near_misses,
                "verifier_rejections": self.verifier_rejections,
                "bypasses": dict(self.bypasses),
                "faults": sum(self.faults.values()),
                "faults_by_operation": dict(self.faults),
                "stores": self.stores,
                "store_skips": dict(self.store_skips),
                "stores_in_flight": len(self._tasks),
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


def _rid(ctx: RequestContext | None) -> str:
    return ctx.request_id if ctx is not None else "-"


@dataclass(slots=True)
class Policy:
    enabled: bool
    threshold: float
    ttl_s: float


@dataclass(slots=True)
class _Pending:
    """What a request that may be stored carries from lookup to ``on_response``."""

    ctx: RequestContext
    vector: Vector
    partition: str
    policy: Policy


class CacheStage(Stage):
    name = "cache"
    optional = True  # a bug here must cost a cache hit, never the request
    uses_embedding = True

    def __init__(self, config: RouterConfig, service: CacheService) -> None:
        self.cfg = config.cache
        self.service = service
        self.tenant_header = config.cache.tenant_header.lower()
        self.finish_reasons = frozenset(config.cache.cache_finish_reasons)
        vcfg = config.cache.verifier
        self.verifier: Verifier | None = Verifier.default() if vcfg.enabled else None
        self.verify_threshold = (
            vcfg.threshold if vcfg.threshold is not None else self.verifier.threshold if self.verifier else 1.0
        )

    @property
    def wants_response_body(self) -> bool:
        return True

    def policy(self, ctx: RequestContext) -> Policy:
        """Threshold and TTL: the decision's policy, else the category's, else the global one."""
        cfg = self.cfg
        threshold, ttl = cfg.threshold, cfg.ttl_s
        cat = cfg.categories.get(ctx.category) if ctx.category else None
        if cat is not None:
            threshold = cat.threshold if cat.threshold is not None else threshold
            ttl = cat.ttl_s if cat.ttl_s is not None else ttl
        dp = ctx.decision.cache if ctx.decision is not None else None
        enabled = True
        if dp is not None:
            enabled = dp.enabled is not False
            threshold = dp.threshold if dp.threshold is not None else threshold
            ttl = dp.ttl_s if dp.ttl_s is not None else ttl
        return Policy(enabled, threshold, ttl)

    def _bypass(self, reason: str) -> None:
        self.service.bypasses[reason] += 1

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        svc = self.service
        if ctx.api is not ApiKind.CHAT:  # completions and embeddings are passed through uncached
            self._bypass("api")
            return None
        dry_run = ctx.cache_bypass == DRY_RUN
        if ctx.cache_bypass is not None and not dry_run:
            self._bypass(ctx.cache_bypass)
            return None
        policy = self.policy(ctx)
        if not policy.enabled:
            self._bypass("decision")
            return None
        allowed = cacheability(ctx.body, ctx.headers, self.cfg)
        if not allowed.lookup and not allowed.store:
            self._bypass(allowed.reason or "uncacheable")
            return None
        text = ctx.text
        if not text.strip():
            self._bypass("no_text")  # nothing to embed: the key alone would make every such request "equal"
            return None
        partition = partition_key(
            api=ctx.api.value,
            body=ctx.body,
            model=ctx.model,
            decision=ctx.decision,
            tenant=ctx.headers.get(self.tenant_header),
            scope=self.cfg.scope,
            by_effect=self.cfg.cross_decision,
        )
        try:
            vector = await ctx.embedding()
        except Exception as exc:
            svc.faults["embedding"] += 1
            ctx.faults.append("cache")
            log.warning("cache skipped for request %s: embedding failed (%s)", ctx.request_id, type(exc).__name__)
            return None
        hit: CacheHit | None = None
        looked_up = False
        score: float | None = None
        if allowed.lookup:
            now = time.time()
            floor = self.floor(policy)
            try:
                hit = await svc.call("lookup", lambda: svc.backend.lookup(vector, partition, floor, now), self.cfg, ctx)
                looked_up = True
            except BackendUnavailable as exc:
                if exc.reason != "fault":  # faults are counted as such by ``call``
                    self._bypass(exc.reason)
            if hit is not None:
                hit, score = await self._check(ctx, text, hit, dry_run)
        if dry_run:
            detail: dict[str, Any] = {"looked_up": looked_up, "threshold": policy.threshold}
            if score is not None:
                detail["verifier"] = round(score, 4)
            if not allowed.lookup:
                detail["reason"] = allowed.reason
            ctx.signals.setdefault(
                LOOKUP_RESULT, SignalResult(hit is not None, hit.similarity if hit else 0.0, detail=detail)
            )
            return None
        if hit is not None:
            svc.hits += 1
            return self._replay(ctx, hit, score)
        if looked_up:
            svc.misses += 1
        elif allowed.reason is not None:
            self._bypass(allowed.reason)  # no-cache: lookup skipped, the answer is still stored
        ctx.response_headers[HIT_HEADER] = "false"
        if allowed.store:
            ctx.stage_state[self.name] = _Pending(ctx, vector, partition, policy)
        return None

    def floor(self, policy: Policy) -> float:
        """The cosine a candidate needs: the policy's threshold, lowered to the verifier's floor when it is on
        (below the threshold, the verifier decides; above it, the verifier still must accept)."""
        if self.verifier is None:
            return policy.threshold
        return min(policy.threshold, self.cfg.verifier.min_similarity)

    async def _check(
        self, ctx: RequestContext, text: str, hit: CacheHit, dry_run: bool
    ) -> tuple[CacheHit | None, float | None]:
        """Serve ``hit`` only if the verifier (or, with it off, the lexical guard) accepts it. Either way the
        similarity and score go to ``ctx.obs`` for the decision log, so a refused candidate says why."""
        svc = self.service
        ctx.obs["cache_similarity"] = round(hit.similarity, 4)
        if self.verifier is None:
            if await cpu.run(len(text), compatible, text, hit.answer.prompt):
                return hit, None
            svc.near_misses += 0 if dry_run else 1
            ctx.obs["cache_refused_by"] = "lexical_guard"
            return None, None
        verifier = self.verifier
        score = await cpu.run(len(text), verifier.score, text, hit.answer.prompt, hit.similarity)
        ctx.obs["cache_verifier"] = round(score, 4)
        if score >= self.verify_threshold:
            return hit, score
        if not dry_run:
            svc.near_misses += 1
            svc.verifier_rejections += 1
        ctx.obs["cache_refused_by"] = "verifier"
        return None, score

    def _replay(self, ctx: RequestContext, hit: CacheHit, score: float | None = None) -> LocalResponse:
        """The stored answer in the form this request asked for, named after the model it asked for."""
        model = ctx.model or ctx.requested_model
        headers = {HIT_HEADER: "true", SIMILARITY_HEADER: f"{hit.similarity:.4f}"}
        if score is not None:
            headers[VERIFIER_HEADER] = f"{score:.4f}"
        if ctx.stream:
            opts = ctx.body.get("stream_options")
            usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
            events = to_sse(hit.answer, model, include_usage=usage)
            return LocalResponse(200, headers=headers, content_type="text/event-stream", chunks=iterate(events))
        return LocalResponse(200, body=to_json(hit.answer, model), headers=headers)

    async def on_response(self, ctx: RequestContext, outcome: ResponseOutcome) -> None:
        pending = ctx.stage_state.pop(self.name, None)
        if not isinstance(pending, _Pending):
            return
        if outcome.status != 200 or outcome.error is not None:
            self.service.store_skips[outcome.error or "status"] += 1  # e.g. "client_disconnected"
            return
        if not outcome.completed:
            self.service.store_skips["incomplete"] += 1
            return
        if not outcome.body:
            self.service.store_skips["no_body"] += 1
            return
        self.service.spawn(self._store(pending, outcome.body))

    async def _store(self, pending: _Pending, body: bytes) -> None:
        svc, ctx = self.service, pending.ctx
        stream = not body.lstrip().startswith(b"{")  # what the worker sent, whatever the request asked
        try:
            prompt = await cpu.run(len(ctx.text), normalize, ctx.text)
            answer = await cpu.run(len(body), parse_answer, body, stream=stream, prompt=prompt)  # a long SSE answer
        except Unstorable as exc:
            svc.store_skips[exc.reason] += 1
            return
        if answer.finish_reason not in self.finish_reasons:
            svc.store_skips["finish_reason"] += 1
            return
        now = time.time()
        decision = ctx.decision.name if ctx.decision is not None else None
        try:
            await svc.call(
                "store",
                lambda: svc.backend.store(
                    pending.vector,
                    pending.partition,
                    answer,
                    pending.policy.ttl_s,
                    ctx.category,
                    now,
                    decision=decision,
                ),
                self.cfg,
                ctx,
            )
        except BackendUnavailable as exc:
            if exc.reason != "fault":
                svc.store_skips[exc.reason] += 1
            return
        svc.stores += 1
