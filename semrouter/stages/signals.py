"""Evaluate every configured signal for a routed request.

Signals run concurrently, so the embedding (started by the first signal that needs it) overlaps
with the cheap ones. A signal that fails is left out (its conditions are false) and recorded: a
broken classifier degrades routing to the default decision, never fails the request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from semrouter.config.schema import RouterConfig
from semrouter.context import LocalResponse, RequestContext, StageRecord
from semrouter.pipeline import Stage
from semrouter.signals.base import Signal
from semrouter.signals.registry import build_signal
from semrouter.signals.result import SignalResult

log = logging.getLogger("semrouter.signals")


class SignalStage(Stage):
    name = "signals"
    optional = True
    routing_only = True

    def __init__(self, config: RouterConfig) -> None:
        self.signals: list[Signal] = [build_signal(c) for c in config.signals]
        self.uses_embedding = any(s.uses_embedding for s in self.signals)

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        results = await asyncio.gather(*(self._timed(s, ctx) for s in self.signals), return_exceptions=True)
        for signal, result in zip(self.signals, results, strict=True):
            if isinstance(result, SignalResult):
                ctx.signals[signal.name] = result
            else:
                ctx.faults.append(f"signal.{signal.name}")  # the name its timing and span have
                log.warning("signal %s failed for request %s: %r", signal.name, ctx.request_id, result)
        return None

    @staticmethod
    async def _timed(signal: Signal, ctx: RequestContext) -> SignalResult:
        """Evaluate one signal and record its own time (for metrics and traces: the stage runs them together)."""
        t0 = time.perf_counter()
        try:
            return await signal.evaluate(ctx)
        finally:
            ctx.records.append(StageRecord(f"signal.{signal.name}", (time.perf_counter() - t0) * 1e3, start=t0))
