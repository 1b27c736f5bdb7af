"""The ordered stage chain every request flows through.

Modelled on Envoy's HTTP filter chain: each stage sees the request through one narrow interface and
may stop iteration with a local reply; response callbacks run in reverse order. The chain is data
(built from config in :mod:`semrouter.stages`), so adapters never know which stages exist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from semrouter.context import LocalResponse, RequestContext, ResponseOutcome, StageRecord
from semrouter.errors import RouterError

log = logging.getLogger("semrouter.pipeline")


class Stage:
    """One step of request handling.

    ``optional`` stages fail open: if they raise, the request continues as if they were absent and
    the fault is recorded (a broken classifier must degrade routing, never fail a request).
    ``routing_only`` stages are skipped for explicit-model passthrough requests.
    """

    name: str = "stage"
    optional: bool = False
    routing_only: bool = False
    uses_embedding: bool = False  # the router loads and warms the embedding model at start-up if any does

    def warm_up(self) -> None:
        """Load what the first request would otherwise load. The router calls it once at start, before it
        reports ready, in a worker thread beside the other stages' (loads overlap, so start-up is the longest
        load, not their sum); a failure is logged and the stage loads again on first use."""
        return None

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        return None

    async def on_response(self, ctx: RequestContext, outcome: ResponseOutcome) -> None:
        return None

    @property
    def wants_response_body(self) -> bool:
        """Whether ``on_response`` needs the answer body (the proxy then keeps a copy)."""
        return False


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)
        self.wants_response_body = any(s.wants_response_body for s in self.stages)
        self.fault_count = 0

    async def run_request(self, ctx: RequestContext) -> LocalResponse | None:
        """Run stages in order; return a local response if one stage answered the request itself.

        :class:`RouterError` always propagates (it is a deliberate answer to the client); any other
        exception from an optional stage is recorded and skipped.
        """
        for stage in self.stages:
            if stage.routing_only and not ctx.routed:
                continue
            t0 = time.perf_counter()
            try:
                local = await stage.on_request(ctx)
            except RouterError:
                ctx.records.append(StageRecord(stage.name, (time.perf_counter() - t0) * 1e3, "error", start=t0))
                raise
            except Exception as exc:
                if not stage.optional:
                    raise
                self._fault(ctx, stage, exc, t0)
                continue
            ctx.records.append(StageRecord(stage.name, (time.perf_counter() - t0) * 1e3, start=t0))
            if local is not None:
                ctx.local_stage = stage.name
                return local
        return None

    async def run_response(self, ctx: RequestContext, outcome: ResponseOutcome) -> None:
        """Response callbacks, in reverse order; failures here never reach the client."""
        for stage in reversed(self.stages):
            if stage.routing_only and not ctx.routed:
                continue
            t0 = time.perf_counter()
            try:
                await stage.on_response(ctx, outcome)
            except Exception as exc:
                self._fault(ctx, stage, exc, t0)

    def _fault(self, ctx: RequestContext, stage: Stage, exc: Exception, t0: float) -> None:
        self.fault_count += 1
        ctx.faults.append(stage.name)
        ctx.records.append(
            StageRecord(
                stage.name, (time.perf_counter() - t0) * 1e3, "skipped", f"{type(exc).__name__}: {exc}", start=t0
            )
        )
        log.warning("stage %s failed open for request %s: %r", stage.name, ctx.request_id, exc)
