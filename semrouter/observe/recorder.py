"""The one place a finished request is observed: metrics, the trace, and the decision log.

Both adapters call :meth:`Observer.record` once per routed API request, after the client has its answer,
with the request context and how it ended; nothing in the stages knows about metrics or spans. The
observer outlives config snapshots (it belongs to the :class:`~semrouter.router.Router`); a reload
re-applies its settings. It reads the live state it exports (cache counters, endpoints, reloads) through
the narrow :class:`~semrouter.observe.sources.StateSource` it is given, never the router itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from semrouter.observe.decision_log import DecisionLog, build_record
from semrouter.observe.usage import find_usage

if TYPE_CHECKING:
    from semrouter.config.schema import RouterConfig
    from semrouter.context import RequestContext, ResponseOutcome
    from semrouter.decide.online import Learning
    from semrouter.observe.metrics import Metrics, StateSync
    from semrouter.observe.sources import StateSource
    from semrouter.observe.tracing import Tracing

log = logging.getLogger("semrouter.observe")

BLOCK_CODES = {"pii_detected": "pii", "jailbreak_detected": "jailbreak", "harmful_request": "harmful"}
LAG_INTERVAL_S = 0.1


def request_path(ctx: RequestContext, status: int, error: str | None, outcome: ResponseOutcome | None) -> str:
    """How the request was answered: upstream, cache, blocked (a guard refused it) or error."""
    if ctx.local_stage == "cache" and status < 400:
        return "cache"
    if error in BLOCK_CODES:
        return "blocked"
    if outcome is None:
        return "error" if status >= 400 or status == 0 else "upstream"
    if outcome.error == "response_not_observed":  # forwarded by Envoy, which relays the answer unseen
        return "upstream"
    if outcome.error not in (None, "client_disconnected", "body_not_observed") or outcome.status >= 500:
        return "error"
    return "upstream" if outcome.status else "error"


def upstream_error(status: int, error: str | None, outcome: ResponseOutcome | None) -> str | None:
    """Why the upstream exchange failed, if it did (a metric label)."""
    if error in ("upstream_timeout", "no_healthy_endpoint", "upstream_error"):
        return error
    if outcome is None:
        return None
    if outcome.error in ("upstream_timeout", "no_healthy_endpoint", "upstream_error"):
        return outcome.error
    if outcome.status >= 500:
        return f"status_{outcome.status}"
    if outcome.status and not outcome.completed and outcome.error is None:
        return "stream_broken"
    return None


def cache_result(ctx: RequestContext) -> str:
    if ctx.local_stage == "cache":
        return "hit"
    hit = ctx.response_headers.get("x-vsr-cache-hit")
    if hit == "false":
        return "miss"
    if ctx.cache_bypass is not None:
        return "bypass"
    return "off" if not ctx.config.cache.enabled else "skipped"


def estimate_cost(ctx: RequestContext, usage: dict[str, Any] | None) -> float | None:
    if usage is None or ctx.model is None:
        return None
    model = ctx.config.model(ctx.model)
    if model is None:
        return None
    p = model.pricing
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    cost = 0.0
    if isinstance(prompt, int):
        cost += prompt * p.prompt_per_1m / 1e6
    if isinstance(completion, int):
        cost += completion * p.completion_per_1m / 1e6
    return cost


class Observer:
    def __init__(self, source: StateSource, config: RouterConfig) -> None:
        self.source = source
        self._state_interval_s = config.observability.metrics.state_interval_s
        self.metrics: Metrics | None = None
        self.state: StateSync | None = None
        self.tracing: Tracing | None = None
        self._tracing_cfg: Any = None
        self.log = DecisionLog(config.observability.decision_log)
        self._sync_task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self.loop_lag_max_s = 0.0  # the worst event-loop lag seen since start (also in /api/v1/status)
        self.learning: Learning | None = None  # the router's: each request's outcome teaches model selection
        self.apply(config)

    def apply(self, config: RouterConfig) -> None:
        """Settings from a (new) config: metrics are created once and stay; tracing restarts if it changed."""
        cfg = config.observability
        self._state_interval_s = cfg.metrics.state_interval_s
        if cfg.metrics.enabled and self.metrics is None:
            from semrouter.observe.metrics import Metrics, StateSync

            self.metrics = Metrics()
            self.state = StateSync(self.metrics, self.log)
        elif not cfg.metrics.enabled:
            self.metrics = self.state = None
        self.log.apply(cfg.decision_log)
        if cfg.tracing != self._tracing_cfg:
            old, self.tracing = self.tracing, None
            if cfg.tracing.enabled:
                from semrouter.observe.tracing import Tracing

                self.tracing = Tracing(cfg.tracing)
            self._tracing_cfg = cfg.tracing
            if old is not None:
                old.close()

    # -- per request -------------------------------------------------------------------------------

    def begin_upstream(self, ctx: RequestContext) -> None:
        """Right before the worker is called: time it, and open the span whose id the worker receives."""
        ctx.timings.upstream_start = time.perf_counter()
        if self.tracing is not None:
            try:
                self.tracing.begin_upstream(ctx)
            except Exception:  # observability must never fail a request
                log.exception("tracing failed for request %s", ctx.request_id)

    def record(
        self, ctx: RequestContext, status: int, error: str | None = None, outcome: ResponseOutcome | None = None
    ) -> None:
        try:
            self._record(ctx, status, error, outcome)
        except Exception:  # a bug here must cost a data point, never the request (or the server)
            log.exception("observing request %s failed", ctx.request_id)

    def _record(self, ctx: RequestContext, status: int, error: str | None, outcome: ResponseOutcome | None) -> None:
        now = time.perf_counter()
        total = now - ctx.started
        if outcome is not None:
            status = outcome.status or status
        path = request_path(ctx, status, error, outcome)
        up, marks = ctx.upstream, ctx.timings
        sniffer = up.sniffer
        usage = sniffer.usage if sniffer is not None else None
        if usage is None and up.body is not None:
            usage = find_usage(up.body)
        first = sniffer.first_byte if sniffer is not None else None
        first = first or marks.upstream_headers
        start = marks.upstream_start
        ttft = first - start if first is not None and start is not None else None
        cost = estimate_cost(ctx, usage)
        up_error = upstream_error(status, error, outcome)
        blocked_by = BLOCK_CODES.get(error or "")
        if self.metrics is not None:
            self.metrics.observe(ctx, path, total, ttft, usage, cost, blocked_by, up_error, now)
        learned = None
        if self.learning is not None:
            self.learning.metrics = self.metrics
            latency = ttft if ttft is not None or up_error != "upstream_timeout" else total
            try:
                learned = self.learning.record(ctx, path, up_error, outcome, latency)
            except Exception:  # a learning bug costs the lesson, not the trace and the decision record
                log.exception("learning from request %s failed", ctx.request_id)
        cache = cache_result(ctx)
        if self.tracing is not None:
            attrs: dict[str, Any] = {
                "semrouter.request_id": ctx.request_id,
                "semrouter.decision": ctx.decision.name if ctx.decision is not None else "none",
                "semrouter.model": ctx.model or "none",
                "semrouter.category": ctx.category or "none",
                "semrouter.reasoning": bool(ctx.reasoning),
                "semrouter.cache": cache,
                "semrouter.path": path,
                "http.response.status_code": status,
            }
            if usage is not None:
                for key, name in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")):
                    if isinstance(usage.get(key), int):
                        attrs[f"gen_ai.usage.{name}"] = usage[key]
            self.tracing.finish(ctx, attrs, up_error or (error if path in ("error", "blocked") else None), first)
        record = build_record(
            ctx,
            self.log.cfg,
            path=path,
            status=status,
            error=error or (outcome.error if outcome is not None else None),
            latency_s=total,
            ttft_s=ttft,
            usage=usage,
            cost=cost,
            cache=cache,
        )
        reason = ctx.obs.get("selection_reason")  # explore, load, slo, context: what changed the choice
        if reason is not None:
            record["selection_reason"] = reason
        excluded = ctx.obs.get("context_excluded")  # candidates whose context window the request overflowed
        if excluded is not None:
            record["context_excluded"] = excluded
            record["context_tokens"] = ctx.obs.get("context_tokens")
        if learned:
            record.update(learned)  # the implicit outcome, and the earlier request a re-ask failed
        self.log.add(record)

    # -- scrape and lifecycle ----------------------------------------------------------------------

    def scrape(self) -> bytes:
        """The /metrics body (run on a worker thread: multiprocess mode reads every worker's file)."""
        assert self.metrics is not None and self.state is not None
        self.state.sync(self.source)
        return self.metrics.exposition()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.metrics is not None and self.metrics.multiprocess and self._sync_task is None:
            self._sync_task = loop.create_task(self._sync_loop())
        if self._lag_task is None:
            self._lag_task = loop.create_task(self._lag_loop(), name="semrouter-loop-lag")

    async def _lag_loop(self) -> None:
        """Sleep ``LAG_INTERVAL_S`` and see how much later the loop woke: the event-loop lag every request
        shares. Work that grows with the input and runs on the loop shows up here first."""
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag = max(0.0, loop.time() - t0 - LAG_INTERVAL_S)
            self.loop_lag_max_s = max(self.loop_lag_max_s, lag)
            if self.metrics is not None:
                self.metrics.loop_lag.observe(lag)

    async def _sync_loop(self) -> None:
        """Each worker copies its state into the shared files now and then: a scrape reaches only one."""
        while True:
            await asyncio.sleep(self._state_interval_s)
            if self.state is not None:
                try:
                    await asyncio.to_thread(self.state.sync, self.source)  # as a scrape does: off the loop
                except Exception:
                    log.exception("metrics state sync failed")

    async def stop(self) -> None:
        for task in (self._sync_task, self._lag_task):
            if task is not None:
                task.cancel()
        self._sync_task = self._lag_task = None
        await asyncio.to_thread(self.log.close)  # writes the decisions still queued for the file
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.close)
        if self.metrics is not None:
            self.metrics.close()
