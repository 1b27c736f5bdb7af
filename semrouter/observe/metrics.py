"""Prometheus metrics: what is defined, how a finished request is counted, and how a scrape is served.

Two kinds of numbers, fed two ways:

* per request (decision, path, stage latencies, tokens, cost, guard verdicts, faults, retries): counted
  by :meth:`Metrics.observe` once, from the finished request context, by the observer;
* state kept elsewhere (cache entries and counters, endpoint availability, ejections, config reloads):
  copied in by :class:`StateSync` when a scrape arrives, and with several server workers also every
  ``state_interval_s`` in each worker. A custom collector reading live objects at scrape time would be
  simpler, but with several workers the scrape lands on one process and would report only that one's
  cache and endpoints; copying into ordinary metrics lets prometheus-client's multiprocess mode
  (``PROMETHEUS_MULTIPROC_DIR``, one mmap file per process) sum them across workers. Cumulative state
  counters are copied as deltas (a counter that restarts, e.g. a replaced cache backend, counts anew).

The registry is per :class:`Metrics` object, not prometheus-client's global one, so several routers in one
process (tests, embedding) never collide.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

if TYPE_CHECKING:
    from semrouter.cache.service import CacheCounters
    from semrouter.context import RequestContext
    from semrouter.observe.sources import DropCounts, StateSource

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Stages run from ~10 µs (decision, selection, keyword signals) to seconds (an embedding under load): the
# low buckets give those their own p50 instead of "below 100 µs"; 17 buckets in all.
STAGE_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
PATHS = ("upstream", "cache", "blocked", "error")
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    """The shared metric directory when several worker processes serve one port (set by ``serve_router``)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        self.requests = Counter(
            "semrouter_requests",
            "Requests by decision, category, selected model, reasoning and how they were answered "
            "(path: upstream, cache, blocked, error).",
            ["decision", "category", "model", "reasoning", "path"],
            registry=r,
        )
        self.request_duration = Histogram(
            "semrouter_request_duration_seconds",
            "Whole request time in the router, from the request body to the end of the answer.",
            ["path"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.stage_duration = Histogram(
            "semrouter_stage_duration_seconds",
            "Time per pipeline stage; signal.<name> for each signal, embedding for the shared embedding.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "semrouter_upstream_ttft_seconds",
            "From sending the request upstream to its first answer byte (streams) or response headers.",
            ["model"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "semrouter_tokens", "Tokens by model, from the answers' usage.", ["model", "direction"], registry=r
        )
        self.cost = Counter(
            "semrouter_estimated_cost_dollars",
            "Estimated spend by model: usage times the configured pricing.",
            ["model"],
            registry=r,
        )
        self.guard_detections = Counter(
            "semrouter_guard_detections",
            "Requests in which a guard found something, by guard (pii, jailbreak, harmful) and type or category.",
            ["guard", "type"],
            registry=r,
        )
        self.guard_blocks = Counter(
            "semrouter_guard_blocks",
            "Requests refused by a guard, by guard and type (a PII block counts once per entity type found).",
            ["guard", "type"],
            registry=r,
        )
        self.guard_second_looks = Counter(
            "semrouter_guard_second_looks",
            "Requests the attack and harmful guards read a second time, by look: reader (a linear head was unsure; "
            "its share is the cascade's cost) or multilingual (a non-English prompt, with the extra installed).",
            ["look"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "semrouter_upstream_errors",
            "Failed upstream exchanges by model and reason (status_5xx, timeout, no_endpoint, stream_broken, ...).",
            ["model", "reason"],
            registry=r,
        )
        self.retries = Counter(
            "semrouter_upstream_retries", "Extra upstream attempts (connect errors, 502, 503).", ["model"], registry=r
        )
        self.loop_lag = Histogram(
            "semrouter_event_loop_lag_seconds",
            "How late the event loop ran a timer set for every 100 ms: the time every request, /health included, "
            "waited behind work that held the loop (semrouter.cpu says what must not).",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.stage_faults = Counter(
            "semrouter_stage_faults",
            "Stage or signal failures skipped by fail-open (the request went on without it).",
            ["stage"],
            registry=r,
        )
        self.tenant_requests = Counter(
            "semrouter_tenant_requests",
            "Requests by configured tenant (none: one the config does not name) and path (upstream, cache, blocked, "
            "error).",
            ["tenant", "path"],
            registry=r,
        )
        self.rate_limited = Counter(
            "semrouter_rate_limited",
            "Requests refused with 429 by a tenant limit (requests_per_minute, tokens_per_minute, budget).",
            ["tenant", "limit"],
            registry=r,
        )
        self.session_turns = Counter(
            "semrouter_session_turns",
            "Routed turns of conversations by result: new, kept (selection chose the pinned model), held (the pin "
            "won over selection), switched (the decision demanded another model).",
            ["result"],
            registry=r,
        )
        self.cascade = Counter(
            "semrouter_cascade",
            "Requests through a cascade by decision, outcome (accepted: the cheaper answer was sent; escalated; "
            "skipped) and reason (the last escalation's cue, or why it was skipped; none when accepted).",
            ["decision", "outcome", "reason"],
            registry=r,
        )
        self.cascade_discarded_tokens = Counter(
            "semrouter_cascade_discarded_tokens",
            "Tokens of answers a cascade paid for and dropped (also counted in semrouter_tokens).",
            ["model", "direction"],
            registry=r,
        )
        self.cascade_discarded_cost = Counter(
            "semrouter_cascade_discarded_cost_dollars",
            "Estimated cost of answers a cascade dropped (also counted in semrouter_estimated_cost_dollars).",
            ["model"],
            registry=r,
        )
        self.feedback = Counter(
            "semrouter_feedback",
            "Outcomes fed to model selection: kind explicit (POST /api/v1/feedback) or implicit (errors, "
            "truncated or empty answers, complete answers, re-asks), verdict good, bad or reask.",
            ["kind", "verdict"],
            registry=r,
        )
        self.bandit_explorations = Counter(
            "semrouter_bandit_explorations",
            "Bandit picks that differ from the greedy (best posterior mean) choice, by decision.",
            ["decision"],
            registry=r,
        )
        self.bandit_store_errors = Counter(
            "semrouter_bandit_store_errors",
            "Failed calls to the bandits' shared store (routing.feedback.store) by op: sync (write outcomes and "
            "request entries, read the merged evidence) or claim (feedback's lookup); learning went on locally.",
            ["op"],
            registry=r,
        )
        self.selection_load_switches = Counter(
            "semrouter_selection_load_switches",
            "Choices that pool-aware selection changed, by decision and reason (load: capacity or an ejected "
            "model; slo: the latency SLO ruled the selector's choice out; context, context_overflow: a model's "
            "context window ruled it out).",
            ["decision", "reason"],
            registry=r,
        )
        # -- state, copied in by StateSync ------------------------------------------------------------
        self.cache_lookups = Counter(
            "semrouter_cache_lookups",
            "Semantic cache lookups by result, each lookup counted once: hit, miss, or near_miss (similar enough by "
            "embedding but refused by the verifier or lexical check; served upstream like a miss, not counted as one).",
            ["result"],
            registry=r,
        )
        self.cache_bypasses = Counter(
            "semrouter_cache_bypasses", "Requests that skipped the cache, by reason.", ["reason"], registry=r
        )
        self.cache_verifier_rejections = Counter(
            "semrouter_cache_verifier_rejections",
            "Cache candidates above the similarity floor that the verifier judged another question (served "
            "upstream; also counted as near_miss lookups).",
            registry=r,
        )
        self.cache_follows = Counter(
            "semrouter_cache_follows",
            "Cache hits served under the decision a verified duplicate was stored under rather than the one routing "
            "chose (cache.follow; also counted as hit lookups).",
            registry=r,
        )
        self.cache_stores = Counter("semrouter_cache_stores", "Answers stored in the cache.", registry=r)
        self.cache_evictions = Counter(
            "semrouter_cache_evictions", "Entries evicted to stay within the size limits.", registry=r
        )
        self.cache_expirations = Counter("semrouter_cache_expirations", "Entries dropped at their TTL.", registry=r)
        self.cache_faults = Counter(
            "semrouter_cache_faults", "Cache backend failures and timeouts by operation.", ["operation"], registry=r
        )
        self.cache_entries = Gauge(
            "semrouter_cache_entries",
            "Entries in the cache (summed over workers: each worker has its own in-memory cache).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.endpoint_up = Gauge(
            "semrouter_endpoint_available",
            "1 when the endpoint takes traffic (healthy and not ejected), else 0.",
            ["model", "endpoint"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.endpoints_available = Gauge(
            "semrouter_endpoints_available",
            "Endpoints of a model that take traffic.",
            ["model"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.outstanding = Gauge(
            "semrouter_endpoint_outstanding_requests",
            "Requests in flight per endpoint.",
            ["model", "endpoint"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.ejections = Counter(
            "semrouter_upstream_ejections", "Endpoints ejected after consecutive failures.", ["model"], registry=r
        )
        self.reloads = Counter(
            "semrouter_config_reloads",
            "Config reloads by result (ok, failed), counted per worker.",
            ["result"],
            registry=r,
        )
        self.decision_log_dropped = Counter(
            "semrouter_decision_log_dropped",
            "Decision records not delivered, by sink: file (the JSONL writer was behind or stopped on an error), "
            "stream (a slow dashboard stream).",
            ["sink"],
            registry=r,
        )
        self._paths = {p: self.request_duration.labels(p) for p in PATHS}
        self._stages: dict[str, Any] = {}
        self._requests: dict[tuple[str, ...], Any] = {}  # labels() takes a lock and checks each value: once per set

    def observe(
        self,
        ctx: RequestContext,
        path: str,
        total_s: float,
        ttft_s: float | None,
        usage: dict[str, Any] | None,
        cost: float | None,
        blocked_by: str | None,
        upstream_error: str | None,
        now: float,
    ) -> None:
        """Count one finished request."""
        decision = ctx.decision.name if ctx.decision is not None else "none"
        model = ctx.model or "none"
        names = (decision, ctx.category or "none", model, "on" if ctx.reasoning else "off", path)
        counter = self._requests.get(names)
        if counter is None:  # bounded: decisions x categories x models x 2 x paths of the configs seen
            counter = self._requests[names] = self.requests.labels(*names)
        counter.inc()
        self._paths[path].observe(total_s)
        stages = self._stages
        for rec in ctx.records:
            child = stages.get(rec.stage)
            if child is None:
                child = stages[rec.stage] = self.stage_duration.labels(rec.stage)
            child.observe(rec.ms / 1e3)
        embedding = ctx.timings.embedding_s()
        if embedding is not None:
            self.stage_duration.labels("embedding").observe(embedding)
        if ttft_s is not None:
            self.ttft.labels(model).observe(ttft_s)
        if usage is not None:
            for key, direction in (("prompt_tokens", "input"), ("completion_tokens", "output")):
                n = usage.get(key)
                if isinstance(n, int) and n > 0:
                    self.tokens.labels(model, direction).inc(n)
            if cost:
                self.cost.labels(model).inc(cost)
        for kind in ctx.pii_types:
            self.guard_detections.labels("pii", kind).inc()
            if blocked_by == "pii":
                self.guard_blocks.labels("pii", kind).inc()
        jb = ctx.signals.get("jailbreak")
        if jb is not None and jb.matched:
            self.guard_detections.labels("jailbreak", jb.value or "unknown").inc()
        if blocked_by == "jailbreak":
            self.guard_blocks.labels("jailbreak", jb.value if jb is not None and jb.value else "unknown").inc()
        harm = ctx.signals.get("harmful")
        if harm is not None and harm.detail.get("route_hit", harm.matched):  # the route's verdict once known
            self.guard_detections.labels("harmful", harm.value or "unknown").inc()
            if blocked_by == "harmful":
                self.guard_blocks.labels("harmful", harm.value or "unknown").inc()
        for look in ("reader", "multilingual"):  # a second look that ran leaves its result in the stage state
            fut = ctx.stage_state.get(f"guard.{look}")
            if fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None and fut.result():
                self.guard_second_looks.labels(look).inc()
        if upstream_error is not None:
            self.upstream_errors.labels(model, upstream_error).inc()
        retries = ctx.upstream.retries
        if retries:
            self.retries.labels(model).inc(retries)
        for fault in ctx.faults:
            self.stage_faults.labels(fault).inc()
        reason = ctx.obs.get("selection_reason")
        if reason is not None:
            if reason == "explore":
                self.bandit_explorations.labels(decision).inc()
            else:
                self.selection_load_switches.labels(decision, str(reason)).inc()
        self._tenancy(ctx, path)
        note = ctx.upstream.cascade
        if note is not None:
            self.cascade.labels(decision, note.outcome, note.reason or "none").inc()
            for d in note.discarded:  # paid for, though the client never saw them
                for n, direction in ((d.prompt_tokens, "input"), (d.completion_tokens, "output")):
                    if n:
                        self.tokens.labels(d.model, direction).inc(n)
                        self.cascade_discarded_tokens.labels(d.model, direction).inc(n)
                if d.cost:
                    self.cost.labels(d.model).inc(d.cost)
                    self.cascade_discarded_cost.labels(d.model).inc(d.cost)

    def _tenancy(self, ctx: RequestContext, path: str) -> None:
        """Tenant labels only from the config (a bounded set), never from a header value."""
        access = ctx.tenancy
        if ctx.config.tenancy is not None:
            tenant = access.tenant.name if access is not None and access.tenant is not None else "none"
            self.tenant_requests.labels(tenant, path).inc()
            limit = ctx.obs.get("limit")
            if isinstance(limit, str):
                self.rate_limited.labels(tenant, limit).inc()
        session = ctx.obs.get("session")
        if isinstance(session, str):
            self.session_turns.labels(session).inc()

    def exposition(self) -> bytes:
        """The scrape body: this process's registry, or every worker's files in multiprocess mode."""
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def close(self) -> None:
        if self.multiprocess:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # its live gauges stop counting; its counters stay in the sums


class StateSync:
    """Copies state that lives on other objects (cache service, endpoints, reload counts, the decision log's
    drops) into the metrics, through the narrow views of :mod:`semrouter.observe.sources`.

    :meth:`sync` runs on a worker thread for each scrape and, with several server workers, on the event
    loop every ``state_interval_s``: two at once would both see the same old value and add the same delta
    twice, so one lock serialises them (a sync takes microseconds; nothing on the request path waits on it).
    """

    def __init__(self, metrics: Metrics, drops: DropCounts | None = None) -> None:
        self.m = metrics
        self.drops = drops  # the decision log (the observer's own), if its losses are exported
        self._lock = threading.Lock()
        self._last: dict[tuple[Any, ...], float] = {}
        self._endpoints: set[tuple[str, str]] = set()
        self._models: set[str] = set()
        self.last_sync = 0.0

    def _add(self, counter: Any, key: tuple[Any, ...], value: float, restarted: bool | None = None) -> None:
        """Add what ``value`` grew by since the last sync. A counter that went down was restarted (unless
        ``restarted`` says otherwise: then a lower value is a torn read and adds nothing)."""
        last = self._last.get(key, 0.0)
        if restarted is None:
            restarted = value < last
        if restarted:
            delta = value
        elif value < last:
            return
        else:
            delta = value - last
        if delta > 0:
            counter.inc(delta)
        self._last[key] = value

    def sync(self, source: StateSource) -> None:
        with self._lock:
            self._sync(source)

    def _sync(self, source: StateSource) -> None:
        m = self.m
        self.last_sync = time.monotonic()
        cache = source.cache_counters()
        if cache is None:
            m.cache_entries.set(0)
        else:
            sid = cache.service_id
            self._lookups(sid, cache)
            for reason, n in cache.bypasses.items():
                self._add(m.cache_bypasses.labels(reason), (sid, "bypass", reason), n)
            for op, n in cache.faults.items():
                self._add(m.cache_faults.labels(op), (sid, "fault", op), n)
            self._add(m.cache_stores, (sid, "stores"), cache.stores)
            self._add(m.cache_verifier_rejections, (sid, "verifier_rejections"), cache.verifier_rejections)
            self._add(m.cache_follows, (sid, "follows"), cache.follows)
            if cache.entries is not None:
                m.cache_entries.set(cache.entries)
            for name, counter, total in (
                ("evictions", m.cache_evictions, cache.evictions),
                ("expirations", m.cache_expirations, cache.expirations),
            ):
                if total is not None:
                    self._add(counter, (sid, "backend", name), total)
        now = time.monotonic()
        seen: set[tuple[str, str]] = set()
        per_model: dict[str, int] = {}
        for e in source.endpoint_states():
            key = (e.model, e.url)
            seen.add(key)
            up = e.available(now)
            per_model[e.model] = per_model.get(e.model, 0) + up
            m.endpoint_up.labels(e.model, e.url).set(1 if up else 0)
            m.outstanding.labels(e.model, e.url).set(e.outstanding)
            self._add(m.ejections.labels(e.model), ("ejections", *key), e.ejections_total)
        for model, url in self._endpoints - seen:  # removed by a reload: no longer takes traffic
            m.endpoint_up.labels(model, url).set(0)
            m.outstanding.labels(model, url).set(0)
        for model, n in per_model.items():
            m.endpoints_available.labels(model).set(n)
        for model in self._models - set(per_model):
            m.endpoints_available.labels(model).set(0)
        self._endpoints, self._models = seen, set(per_model)
        self._add(m.reloads.labels("ok"), ("reloads", "ok"), source.reloads_ok)
        self._add(m.reloads.labels("failed"), ("reloads", "failed"), source.reloads_failed)
        if self.drops is not None:
            self._add(m.decision_log_dropped.labels("file"), ("dlog", "file"), self.drops.file_dropped)
            self._add(m.decision_log_dropped.labels("stream"), ("dlog", "stream"), self.drops.dropped)

    def _lookups(self, sid: int, cache: CacheCounters) -> None:
        """Lookups as disjoint results. The stage counts a near miss in ``near_misses`` *and* ``misses`` (it
        went upstream like one), so a plain miss is ``misses - near_misses``. The stage bumps ``near_misses``
        first and ``counters()`` reads ``misses`` first, so a read racing a lookup can only come out low, never
        high: a lower value than last time is such a read (it adds nothing) unless ``misses`` itself fell."""
        lookups = self.m.cache_lookups
        misses, near = cache.misses, cache.near_misses
        restarted = misses < self._last.get((sid, "misses_raw"), 0.0)
        self._last[(sid, "misses_raw")] = misses
        self._add(lookups.labels("hit"), (sid, "hits"), cache.hits)
        self._add(lookups.labels("near_miss"), (sid, "near_misses"), near)
        self._add(lookups.labels("miss"), (sid, "misses"), max(0, misses - near), restarted)
