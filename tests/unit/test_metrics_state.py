"""Metrics that are not per request: state copied from a real router (StateSync), stage buckets, fault labels.

The router here is a real :class:`~semrouter.router.Router` (memory cache, one endpoint, not started); the
tests change its counters the way the cache stage, the pool and reloads do, and read the registry back.
"""

from __future__ import annotations

import sys
import threading

import orjson
import pytest

from semrouter.config import parse_config
from semrouter.context import ApiKind, RequestContext
from semrouter.observe.metrics import STAGE_BUCKETS, Metrics, StateSync
from semrouter.router import Router
from semrouter.signals.base import Signal
from semrouter.signals.result import SignalResult
from semrouter.stages.signals import SignalStage

CONFIG = parse_config("""
models:
  - name: m1
    endpoints: [{url: "http://127.0.0.1:9"}]
signals:
  - {name: urgent, type: keyword, keywords: [urgent]}
  - {name: tier, type: header, header: x-tier}
decisions:
  - name: default
    models: [{model: m1}]
cache: {enabled: true}
""")


@pytest.fixture
def router() -> Router:
    return Router(CONFIG)  # not started: no health checks, no connections


def value(m: Metrics, name: str, **labels: str) -> float:
    v = m.registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def lookups(m: Metrics) -> dict[str, float]:
    return {r: value(m, "semrouter_cache_lookups_total", result=r) for r in ("hit", "miss", "near_miss")}


def test_near_miss_is_not_also_a_miss(router: Router) -> None:
    """The stage counts a near miss in ``misses`` too (it went upstream); the export counts each lookup once."""
    m = Metrics()
    state = StateSync(m)
    svc = router.cache
    assert svc is not None
    svc.hits, svc.misses, svc.near_misses = 1, 3, 1  # one hit, two plain misses, one near miss
    state.sync(router)
    assert lookups(m) == {"hit": 1, "miss": 2, "near_miss": 1}
    assert sum(lookups(m).values()) == 4  # the hit ratio's denominator is the number of lookups
    # a scrape between the stage's two increments of a near miss (near_misses first, then misses)
    svc.near_misses += 1
    state.sync(router)
    assert lookups(m) == {"hit": 1, "miss": 2, "near_miss": 2}  # not a restarted counter: nothing re-added
    svc.misses += 1
    state.sync(router)
    assert lookups(m) == {"hit": 1, "miss": 2, "near_miss": 2}


def test_a_replaced_counter_counts_anew(router: Router) -> None:
    m = Metrics()
    state = StateSync(m)
    svc = router.cache
    assert svc is not None
    svc.misses, svc.near_misses = 5, 2
    state.sync(router)
    svc.misses, svc.near_misses = 1, 0  # the stage's counters restarted
    state.sync(router)
    assert lookups(m) == {"hit": 0, "miss": 4, "near_miss": 2}


def test_concurrent_syncs_count_every_change_once(router: Router) -> None:
    """Scrapes on worker threads racing each other and the periodic sync, while the "loop" keeps counting
    (a near miss bumps near_misses, then misses, as the stage does): the totals are exact at the end."""
    m = Metrics()
    state = StateSync(m)
    svc = router.cache
    assert svc is not None
    endpoint = router.fleet.endpoints[0]
    rounds = 3000
    stop = threading.Event()

    def count() -> None:
        for i in range(rounds):
            if i % 3 == 0:
                svc.hits += 1
            elif i % 3 == 1:
                svc.near_misses += 1
                svc.misses += 1
            else:
                svc.misses += 1
            svc.stores += 1
            if i % 100 == 0:
                router.reloads_ok += 1
                endpoint.ejections_total += 1
        stop.set()

    def scrape() -> None:
        while not stop.is_set():
            state.sync(router)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that races show up
    try:
        threads = [threading.Thread(target=scrape) for _ in range(4)] + [threading.Thread(target=count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    state.sync(router)
    assert lookups(m) == {"hit": rounds / 3, "miss": rounds / 3, "near_miss": rounds / 3}
    assert value(m, "semrouter_cache_stores_total") == rounds
    assert value(m, "semrouter_config_reloads_total", result="ok") == rounds / 100
    assert value(m, "semrouter_upstream_ejections_total", model="m1") == rounds / 100


def test_stage_buckets_resolve_microseconds() -> None:
    """Decision, selection and keyword signals take tens of µs: they need buckets of their own."""
    assert STAGE_BUCKETS[:3] == (0.00001, 0.000025, 0.00005)
    assert list(STAGE_BUCKETS) == sorted(STAGE_BUCKETS) and len(STAGE_BUCKETS) <= 20
    m = Metrics()
    m.stage_duration.labels("decision").observe(0.00002)
    m.stage_duration.labels("decision").observe(0.00004)
    bucket = "semrouter_stage_duration_seconds_bucket"
    assert value(m, bucket, stage="decision", le="1e-05") == 0
    assert value(m, bucket, stage="decision", le="2.5e-05") == 1
    assert value(m, bucket, stage="decision", le="5e-05") == 2


class _Broken(Signal):
    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        raise RuntimeError("classifier crashed")


async def test_signal_fault_has_the_name_of_its_timing() -> None:
    """A failed signal is a stage fault named like its timing and span (``signal.<name>``)."""
    stage = SignalStage(CONFIG)
    stage.signals[0] = _Broken(stage.signals[0].config)  # the keyword signal "urgent" breaks; "tier" works
    body = {"model": "auto", "messages": [{"role": "user", "content": "urgent: help"}]}
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), {"x-tier": "gold"}, CONFIG)
    ctx.body = body
    assert await stage.on_request(ctx) is None
    assert ctx.faults == ["signal.urgent"] and "urgent" not in ctx.signals and "tier" in ctx.signals
    assert {r.stage for r in ctx.records} == {"signal.urgent", "signal.tier"}
    m = Metrics()
    m.observe(ctx, "upstream", 0.01, None, None, None, None, None, 0.0)
    assert value(m, "semrouter_stage_faults_total", stage="signal.urgent") == 1
    assert value(m, "semrouter_stage_duration_seconds_count", stage="signal.urgent") == 1
