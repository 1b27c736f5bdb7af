"""What following a verified duplicate (``cache.follow``) adds to the cache stage, in-process.

    python bench/cache_follow.py [--entries 20000] [--requests 300]

Two decisions ("please" routes to ``polite`` on m2, the rest to ``default`` on m1), an in-memory backend
seeded with ``--entries`` random unit vectors in the tenant's ``default`` partition and as many in its
question partition (where every answer of the tenant is also kept: the question partition is the union of
the decision partitions), plus the real questions below. Each request runs the stages before the cache and
its embedding first, then only the cache stage's ``on_request`` is timed. Cases:

* ``miss``: a question with no candidate anywhere; with following on it pays one more lookup (the question
  partition) after its own partition came back empty;
* ``hit``: a question stored under its own decision: served by the first lookup, following never runs;
* ``followed``: a paraphrase routed to ``default`` of a question stored under ``polite``: own lookup (no
  candidate), question lookup, the origin checks (config, recomputed partition key, guards), the verifier.

Prints p50/p99 in milliseconds per case, following on and off.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import numpy as np
import orjson

from semrouter.cache.base import CachedAnswer
from semrouter.cache.keys import partition_key, question_key
from semrouter.cache.memory import MemoryCache
from semrouter.cache.service import CacheService
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext, ResponseOutcome
from semrouter.stages import build_pipeline
from semrouter.stages.cache import CacheStage

TENANT = "bench"
STORED_POLITE = "Please, what is cognitive dissonance?"
FOLLOWER = "What does cognitive dissonance mean?"
STORED_OWN = "How many legs does a spider have?"
OWN_HIT = "how many legs does a spider have"
MISSES = [f"What is the population of town number {i} in the county registry?" for i in range(40)]


def config(follow: bool) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "models": [
                {"name": "m1", "endpoints": [{"url": "http://127.0.0.1:9"}]},
                {"name": "m2", "endpoints": [{"url": "http://127.0.0.1:9"}]},
            ],
            "signals": [{"name": "polite", "type": "keyword", "keywords": ["please"]}],
            "decisions": [
                {"name": "default", "models": [{"model": "m1"}], "system_prompt": {"text": "Be concise."}},
                {
                    "name": "polite",
                    "models": [{"model": "m2"}],
                    "rules": {"signal": "polite"},
                    "system_prompt": {"text": "Answer like a pirate."},
                    "priority": 1,
                },
            ],
            "cache": {"enabled": True, "max_entries": 10_000_000, "follow": {"enabled": follow}},
        }
    )


def request(cfg: RouterConfig, text: str) -> RequestContext:
    raw = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": text}]})
    return RequestContext(ApiKind.CHAT, raw, {"x-tenant-id": TENANT}, cfg)


async def seed(backend: MemoryCache, cfg: RouterConfig, n: int) -> None:
    body: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": "x"}]}
    own = partition_key(
        api="chat/completions", body=body, model="m1", decision=cfg.decisions[0], tenant=TENANT, by_effect=True
    )
    question = question_key(api="chat/completions", body=body, tenant=TENANT)
    rng = np.random.default_rng(0)
    now = time.time()
    origin = {"decision": "default", "model": "m1", "partition": own}
    for part, answer in ((own, CachedAnswer("a", "m1", now)), (question, CachedAnswer("a", "m1", now, origin=origin))):
        vecs = rng.standard_normal((n, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for v in vecs:
            await backend.store(v, part, answer, 3600.0, None, now, decision="default")
        await asyncio.sleep(0)


async def timed(pipe: Any, stage: CacheStage, cfg: RouterConfig, text: str) -> tuple[float, bool]:
    ctx = request(cfg, text)
    for st in pipe.stages:
        if st is stage:
            break
        await st.on_request(ctx)
    await ctx.embedding()
    t0 = time.perf_counter()
    local = await stage.on_request(ctx)
    ms = (time.perf_counter() - t0) * 1e3
    ctx.stage_state.pop(stage.name, None)  # nothing is stored from a timed request
    return ms, local is not None


async def run(follow: bool, entries: int, requests: int) -> dict[str, tuple[float, float, int]]:
    cfg = config(follow)
    backend = MemoryCache(10_000_000)
    await seed(backend, cfg, entries)
    svc = CacheService(backend)
    pipe = build_pipeline(cfg, cache=svc)
    stage = next(s for s in pipe.stages if isinstance(s, CacheStage))
    for text in (STORED_POLITE, STORED_OWN):  # the real questions, stored as a worker's answer would be
        ctx = request(cfg, text)
        assert await pipe.run_request(ctx) is None
        answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
        await pipe.run_response(ctx, ResponseOutcome(200, True, orjson.dumps(answer)))
        await svc.drain()
    # the HNSW graphs (usearch) are built in background threads: time lookups once they are in place
    parts = list(backend._partitions.values())
    while any(p.building is not None or (p.size >= 8192 and p.graph is None) for p in parts):
        await asyncio.sleep(0.1)
    cases = {"miss": MISSES, "hit": [OWN_HIT], "followed": [FOLLOWER]}
    times: dict[str, list[float]] = {c: [] for c in cases}
    served = dict.fromkeys(cases, 0)
    for i in range(requests):  # interleaved, so the cases share the host's load
        for case, texts in cases.items():
            ms, hit = await timed(pipe, stage, cfg, texts[i % len(texts)])
            times[case].append(ms)
            served[case] += hit
    out: dict[str, tuple[float, float, int]] = {}
    for case, ts in times.items():
        ts.sort()
        out[case] = (statistics.median(ts), ts[int(0.99 * (len(ts) - 1))], served[case])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    for follow in (False, True):
        res = asyncio.run(run(follow, args.entries, args.requests))
        for case, (p50, p99, served) in res.items():
            print(f"follow={'on ' if follow else 'off'} {case:9s} p50 {p50:.3f} ms  p99 {p99:.3f} ms  served {served}")


if __name__ == "__main__":
    main()
