"""Pool-aware choice (issue 19, point 4): among candidates close in utility, the one with capacity now.

A selector ranks a decision's candidates by expected quality against price; it cannot see that the
strong tier's workers are queueing. This step runs after any selector (``selection.pool_aware``):

1. **Latency SLO** (``latency_slo_ms``): a model whose recent latency exceeds it is ruled out, unless
   that rules out every candidate (then the SLO cannot be met and quality decides);
2. **availability**: a model with no endpoint taking traffic (all ejected or unhealthy) is ruled out,
   again unless none would be left (the forwarder's fallbacks and its 503 then speak);
3. **capacity**: among the candidates within ``margin`` utility of the best one left, the one with the
   lowest predicted latency wins, predicted as recent latency x (1 + outstanding requests per unit of
   endpoint weight) on its least loaded endpoint. A switch needs a 20% better prediction, so two near
   equal models do not flap on noise.

"Recent latency" is an exponential average (alpha 0.3) of the time to the worker's first answer byte
(the TTFT of a stream; the whole answer of a non-streamed request) per endpoint, fed by the observer.
It counts for ``stale_s`` after its last sample: a model ruled out gets no traffic, so no new sample
would ever show it recovered. Once stale (and with nothing in flight there), its estimate is dropped,
the next request goes there as a probe, and its one sample replaces the old average. A slow model so
costs one request per ``stale_s``.

What this step does not do (decided for issue 19): turn reasoning down when the strong tier is
saturated (it changes the answer's quality behind the client's back; a decision that wants it can
route to a non-reasoning model instead). A context-length need (``models[].context_window``) is met
before the selector runs, in :mod:`semrouter.stages.selection`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from semrouter.config.schema import PoolAwareConfig
    from semrouter.pool.endpoint import Endpoint

ALPHA = 0.3
SWITCH_GAIN = 0.8  # a switch for capacity needs a prediction at most 80% of the selected model's


@dataclass
class LatencyBook:
    """Recent latency per endpoint (by model and URL): an exponential average and when it was last fed."""

    ewma: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def observe(self, model: str, url: str, seconds: float, stale_s: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = (model, url)
        old = self.ewma.get(key)
        fresh = old is not None and now - old[1] <= stale_s  # a probe after a stale spell starts anew
        value = (1 - ALPHA) * old[0] + ALPHA * seconds if fresh and old is not None else seconds
        self.ewma[key] = (value, now)

    def recent(self, e: Endpoint, stale_s: float, now: float) -> float | None:
        """The endpoint's recent latency in seconds, None when unknown or stale (and nothing is in flight:
        a probe under way keeps the old estimate until it reports)."""
        got = self.ewma.get((e.model, e.url))
        if got is None:
            return None
        if now - got[1] > stale_s and e.outstanding == 0:
            return None
        return got[0]

    def prune(self, keep: Iterable[tuple[str, str]]) -> None:
        keep = set(keep)
        for key in set(self.ewma) - keep:
            del self.ewma[key]


@dataclass(frozen=True, slots=True)
class ModelLoad:
    """What the pool says of one model right now."""

    available: int  # endpoints taking traffic
    latency_s: float | None  # recent latency of its fastest fresh endpoint; None: unknown
    predicted_s: float  # recent latency x (1 + load) on its least loaded endpoint; 0 when unknown


def model_load(endpoints: Iterable[Endpoint], book: LatencyBook, stale_s: float, now: float) -> ModelLoad:
    available = 0
    latency: float | None = None
    predicted = math.inf
    for e in endpoints:
        if not e.available(now):
            continue
        available += 1
        lat = book.recent(e, stale_s, now)
        if lat is not None:
            latency = lat if latency is None else min(latency, lat)
        predicted = min(predicted, (lat or 0.0) * (1 + e.outstanding / e.weight))
    return ModelLoad(available, latency, predicted if available else math.inf)


def pool_choice(
    chosen: str,
    utility: Mapping[str, float],
    endpoints: Mapping[str, Iterable[Endpoint]],
    book: LatencyBook,
    cfg: PoolAwareConfig,
    now: float | None = None,
) -> tuple[str, str | None, dict[str, ModelLoad]]:
    """(model, why it changed: "slo", "load" or None, the load seen per candidate).

    ``chosen`` is the selector's pick and ``utility`` its score per candidate; ``endpoints`` the
    endpoints of each model (a model missing there is left as it is: its state is unknown)."""
    now = time.monotonic() if now is None else now
    unknown = ModelLoad(1, None, 0.0)
    loads = {m: model_load(endpoints[m], book, cfg.stale_s, now) if m in endpoints else unknown for m in utility}
    left = list(utility)
    reason: str | None = None
    if cfg.latency_slo_ms is not None:
        slo = cfg.latency_slo_ms / 1e3
        within = [m for m in left if (lat := loads[m].latency_s) is None or lat <= slo]
        if within:
            if chosen not in within:
                reason = "slo"
            left = within
    up = [m for m in left if loads[m].available]
    if up:
        if chosen in left and chosen not in up:
            reason = "load"
        left = up
    # "close in quality" is measured from the selector's own pick while it is still allowed: a bandit's
    # utilities are posterior samples, and measuring from the best sample let sampling noise outvote the
    # bandit's greedy pick (and its exploration bound) under the name of load
    ref = utility[chosen] if chosen in left else max(utility[m] for m in left)
    near = [m for m in left if utility[m] >= ref - cfg.margin]
    start = chosen if chosen in near else max(near, key=utility.__getitem__)
    fastest = min(near, key=lambda m: (loads[m].predicted_s, -utility[m]))
    pick = start
    if fastest != start and loads[fastest].predicted_s < SWITCH_GAIN * loads[start].predicted_s:  # strictly
        pick = fastest
    if pick != chosen and reason is None:
        reason = "load"
    return pick, reason, loads
