"""The cache stage in the real pipeline when its backend misbehaves: requests are always served.

The backend here is a real :class:`MemoryCache` behind a switch that makes it hang or fail, standing in
for a Milvus server that is down or slow; the stage, pipeline and embedding model are the real ones.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any

import orjson
import pytest

from semrouter.cache.base import BackendNotReady, CachedAnswer, CacheHit, Vector
from semrouter.cache.config import CacheConfig
from semrouter.cache.memory import MemoryCache
from semrouter.cache.registry import BACKENDS, backend_class, create_backend
from semrouter.cache.service import CacheService
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext, ResponseOutcome
from semrouter.pipeline import Pipeline
from semrouter.stages import build_pipeline
from semrouter.stages.cache import CacheStage, Policy


class Switchable:
    """A working memory backend that can be made to hang (``"hang"``), raise (``"fail"``) or say it is still
    starting (``"starting"``, as Milvus does while its first connection opens)."""

    def __init__(self) -> None:
        self.inner = MemoryCache(1000)
        self.mode = "ok"
        self.calls = 0
        self.started = 0

    def start(self) -> None:
        self.started += 1

    async def _gate(self) -> None:
        self.calls += 1
        if self.mode == "hang":
            await asyncio.sleep(30)
        if self.mode == "fail":
            raise ConnectionError("backend down")
        if self.mode == "starting":
            raise BackendNotReady("still connecting")

    async def lookup(self, vector: Vector, partition: str, threshold: float, now: float) -> CacheHit | None:
        await self._gate()
        return await self.inner.lookup(vector, partition, threshold, now)

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
        await self._gate()
        await self.inner.store(vector, partition, answer, ttl_s, category, now, decision=decision)

    async def invalidate(
        self, partition_prefix: str | None = None, older_than: float | None = None, decision: str | None = None
    ) -> int:
        return await self.inner.invalidate(partition_prefix, older_than, decision)

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()


def config(**cache: Any) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "models": [{"name": "m1", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
            "decisions": [{"name": "default", "models": [{"model": "m1"}]}],
            "cache": {"enabled": True, "timeout_s": 0.05, **cache},
        }
    )


ANSWER = orjson.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    }
)


async def ask(pipe: Pipeline, cfg: RouterConfig, text: str = "What is the capital of France?") -> RequestContext:
    """One request through the pipeline; if it was not answered locally, a worker 'answers' ANSWER."""
    body = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": text}]})
    ctx = RequestContext(ApiKind.CHAT, body, {}, cfg)
    local = await pipe.run_request(ctx)
    if local is None:
        assert ctx.model == "m1" and ctx.body_modified  # routing went on to enrichment: the request is served
        await pipe.run_response(ctx, ResponseOutcome(200, True, ANSWER))
    return ctx


def service_of(pipe: Pipeline) -> CacheService:
    stage = next(s for s in pipe.stages if isinstance(s, CacheStage))
    return stage.service


async def test_hanging_backend_is_timed_out_then_skipped_by_the_breaker() -> None:
    cfg = config(circuit_breaker={"failures": 3, "backoff_s": 1.0, "max_backoff_s": 5})
    backend = Switchable()
    svc = CacheService(backend)
    pipe = build_pipeline(cfg, cache=svc)
    backend.mode = "hang"
    ctx = await ask(pipe, cfg)
    await svc.drain()
    assert ctx.faults == ["cache", "cache"] and ctx.response_headers["x-vsr-cache-hit"] == "false"
    assert backend.calls == 2 and svc.faults == {"lookup": 1, "store": 1}  # both abandoned at the deadline
    ctx = await ask(pipe, cfg)  # its lookup is the third fault in a row: the breaker opens
    await svc.drain()
    assert backend.calls == 3 and svc.store_skips["circuit_open"] == 1
    assert svc.breaker.state(time.monotonic())["state"] == "open"
    ctx = await ask(pipe, cfg)  # open: the backend is not even asked, the request is served
    await svc.drain()
    assert backend.calls == 3 and "cache" not in ctx.faults
    assert svc.bypasses["circuit_open"] == 1 and svc.store_skips["circuit_open"] == 2
    # after the back-off one probe goes through; it fails, so the back-off doubles
    await asyncio.sleep(1.05)
    await ask(pipe, cfg)
    await svc.drain()
    assert svc.breaker.backoff == 2.0 and svc.breaker.state(time.monotonic())["state"] == "open"
    # the backend recovers: the next probe closes the breaker and caching works again
    backend.mode = "ok"
    await asyncio.sleep(2.05)
    await ask(pipe, cfg)
    await svc.drain()
    assert svc.breaker.state(time.monotonic())["state"] == "closed" and svc.stores == 1
    ctx = await ask(pipe, cfg)
    assert ctx.local_stage == "cache" and svc.hits == 1


async def test_failing_backend_never_fails_the_request() -> None:
    cfg = config()
    backend = Switchable()
    svc = CacheService(backend)
    pipe = build_pipeline(cfg, cache=svc)
    backend.mode = "fail"
    ctx = await ask(pipe, cfg)
    await svc.drain()
    assert "cache" in ctx.faults and svc.faults == {"lookup": 1, "store": 1} and svc.stores == 0
    assert pipe.fault_count == 0  # handled by the stage itself, not by the pipeline's fail-open net


async def test_backend_still_starting_is_a_counted_bypass_not_a_fault() -> None:
    cfg = config(circuit_breaker={"failures": 1, "backoff_s": 60})
    backend = Switchable()
    svc = CacheService(backend)
    svc.start()
    assert backend.started == 1
    pipe = build_pipeline(cfg, cache=svc)
    backend.mode = "starting"
    for _ in range(3):  # with failures: 1, a single fault would open the breaker for a minute
        ctx = await ask(pipe, cfg)
        await svc.drain()
        assert "cache" not in ctx.faults and ctx.response_headers["x-vsr-cache-hit"] == "false"
    assert svc.faults == {} and svc.bypasses == {"not_ready": 3} and svc.store_skips == {"not_ready": 3}
    assert svc.breaker.state(time.monotonic())["state"] == "closed"
    backend.mode = "ok"  # ready: the next request is stored, the one after is answered from the cache
    await ask(pipe, cfg)
    await svc.drain()
    ctx = await ask(pipe, cfg)
    assert ctx.local_stage == "cache" and svc.hits == 1 and svc.stores == 1


class SlowStart(Switchable):
    """Set-up that ends when the test says so, like a Milvus connection being opened."""

    def __init__(self) -> None:
        super().__init__()
        self.warm: concurrent.futures.Future[None] = concurrent.futures.Future()

    def start(self) -> concurrent.futures.Future[None]:  # type: ignore[override]
        self.started += 1
        return self.warm


async def test_wait_started_waits_for_the_first_set_up_only_as_long_as_allowed() -> None:
    backend = SlowStart()
    svc = CacheService(backend)
    assert await svc.wait_started(0.05) is False  # still connecting: the bound holds
    backend.warm.set_exception(ConnectionError("milvus down"))  # a failed first attempt still ends the wait
    assert await svc.wait_started(5) is True
    assert backend.started == 1  # set-up is started once, however often it is awaited
    assert await CacheService(MemoryCache(10)).wait_started(0) is True  # nothing to set up


async def test_pii_marked_requests_neither_look_up_nor_store() -> None:
    cfg = config()
    backend = Switchable()
    svc = CacheService(backend)
    pipe = build_pipeline(cfg, cache=svc)
    body = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "Mail bob@example.com"}]})
    ctx = RequestContext(ApiKind.CHAT, body, {}, cfg)
    ctx.cache_bypass = "pii"  # what the guard stage sets when it found PII, masked or not
    assert await pipe.run_request(ctx) is None
    await pipe.run_response(ctx, ResponseOutcome(200, True, ANSWER))
    await svc.drain()
    assert backend.calls == 0 and svc.bypasses == {"pii": 1} and "x-vsr-cache-hit" not in ctx.response_headers


async def test_stage_sits_after_selection_and_before_enrichment() -> None:
    names = [s.name for s in build_pipeline(config(), cache=CacheService(MemoryCache())).stages]
    assert names.index("selection") < names.index("cache") < names.index("enrich")
    assert not next(s for s in build_pipeline(config()).stages if isinstance(s, CacheStage)).routing_only
    assert "cache" not in [s.name for s in build_pipeline(config(enabled=False)).stages]


def test_policy_precedence_decision_then_category_then_global() -> None:
    cfg = RouterConfig.model_validate(
        {
            "models": [{"name": "m1", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
            "decisions": [
                {"name": "default", "models": [{"model": "m1"}]},
                {"name": "math", "category": "math", "models": [{"model": "m1"}], "cache": {"ttl_s": 60}},
                {"name": "off", "models": [{"model": "m1"}], "cache": {"enabled": False, "threshold": 0.5}},
            ],
            "cache": {
                "enabled": True,
                "threshold": 0.9,
                "ttl_s": 3600,
                "categories": {"math": {"threshold": 0.97, "ttl_s": 600, "max_entries": 2}},
            },
        }
    )
    stage = next(s for s in build_pipeline(cfg).stages if isinstance(s, CacheStage))
    ctx = RequestContext(ApiKind.CHAT, b"{}", {}, cfg)
    assert stage.policy(ctx) == Policy(True, 0.9, 3600)  # passthrough: no decision, no category
    ctx.decision, ctx.category = cfg.decision("default"), "math"
    assert stage.policy(ctx) == Policy(True, 0.97, 600)  # category beats global
    ctx.decision = cfg.decision("math")
    assert stage.policy(ctx) == Policy(True, 0.97, 60)  # decision beats category where it says something
    ctx.decision = cfg.decision("off")
    assert stage.policy(ctx).enabled is False
    backend = stage.service.backend
    assert isinstance(backend, MemoryCache) and backend.category_quota == {"math": 2}


def test_registry_builds_backends_by_name() -> None:
    backend = create_backend(CacheConfig(max_entries=7))
    assert isinstance(backend, MemoryCache) and backend.max_entries == 7
    assert set(BACKENDS) == {"memory", "milvus", "redis"}
    with pytest.raises(KeyError, match="known"):
        backend_class("cassandra")


async def test_candidates_are_verified_and_say_why_in_the_decision_log() -> None:
    """A refused candidate and a served one both leave their cosine and verifier score for the decision log;
    a request with no candidate never runs the verifier."""
    from semrouter.observe.config import DecisionLogConfig
    from semrouter.observe.decision_log import build_record

    cfg = config()
    svc = CacheService(MemoryCache(100))
    pipe = build_pipeline(cfg, cache=svc)
    stage = next(s for s in pipe.stages if isinstance(s, CacheStage))
    assert (
        stage.verifier is not None
        and stage.floor(stage.policy(await ask(pipe, cfg, "How do I turn on dark mode in Outlook?"))) == 0.7
    )
    await svc.drain()
    refused = await ask(pipe, cfg, "How do I turn off dark mode in Outlook?")
    assert refused.local_stage is None and svc.verifier_rejections == 1 and svc.near_misses == 1
    assert refused.obs["cache_refused_by"] == "verifier" and refused.obs["cache_verifier"] < stage.verify_threshold
    record = build_record(
        refused,
        DecisionLogConfig(),
        path="upstream",
        status=200,
        error=None,
        latency_s=0.01,
        ttft_s=None,
        usage=None,
        cost=None,
        cache="miss",
    )
    assert record["cache_similarity"] > 0.9 and record["cache_verifier"] == refused.obs["cache_verifier"]
    served = await ask(pipe, cfg, "how do i turn on dark mode in outlook")
    assert served.local_stage == "cache" and served.obs["cache_verifier"] >= stage.verify_threshold
    unrelated = await ask(pipe, cfg, "What is the tallest mountain in Africa?")
    assert "cache_similarity" not in unrelated.obs and "cache_verifier" not in unrelated.obs
    assert svc.verifier_rejections == 1 and svc.stats()["stage"]["verifier_rejections"] == 1


async def test_verifier_off_keeps_the_old_rule() -> None:
    cfg = config(verifier={"enabled": False})
    svc = CacheService(MemoryCache(100))
    pipe = build_pipeline(cfg, cache=svc)
    stage = next(s for s in pipe.stages if isinstance(s, CacheStage))
    assert stage.verifier is None
    await ask(pipe, cfg, "What is 17 * 23?")
    await svc.drain()
    refused = await ask(pipe, cfg, "What is 17 * 24?")
    assert refused.obs["cache_refused_by"] == "lexical_guard" and svc.verifier_rejections == 0
    assert svc.near_misses == 1
