"""The Redis cache backend against a real server: valkey 8.1 with the RediSearch module (HNSW vector index)
on a loopback port, a subprocess this module starts, kills and restarts.

Every behaviour tests/integration/test_cache_milvus.py checks for the Milvus backend is checked here for
this one (hits and thresholds, partition isolation with hostile keys, TTL, invalidation, quotas, answer
round trip, schema checks, slow calls, an outage and recovery, background set-up, readiness, the proxy
serving through an outage), plus what only this backend has: the server's own expiry and the HNSW index.

Skipped only when the client or the server wheels are not installed (the ``test`` extra installs them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import pathlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from conftest import simple_config
from servers import free_port, http_json

pytest.importorskip("redis", reason="redis not installed (pip install -e '.[redis]')")
import redis_server

if (_why := redis_server.available()) is not None:
    pytest.skip(_why, allow_module_level=True)

from redis_server import RedisServer

from semrouter.cache.base import CachedAnswer
from semrouter.cache.config import CacheConfig
from semrouter.cache.redis import RedisCache, RedisNotReady, RedisUnavailable
from semrouter.cache.registry import create_backend
from semrouter.cache.service import BackendUnavailable, CacheService

DIM = 384
NOW = 1_700_000_000.0
HANG_GUARD_S = 20.0


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def near(v: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A unit vector at exactly ``cosine`` from ``v``."""
    noise = unit(seed)
    noise -= float(noise @ v) * v
    noise /= np.linalg.norm(noise)
    out = cosine * v + np.sqrt(1 - cosine**2) * noise
    return (out / np.linalg.norm(out)).astype(np.float32)


def answer(text: str, **extra: Any) -> CachedAnswer:
    return CachedAnswer(content=text, model="m1", created=NOW, **extra)


def tenant_prefix(tenant: str) -> str:
    return hashlib.sha256(tenant.encode()).hexdigest()[:16] + ":"


def key(tenant: str, rest: str = "x") -> str:
    """A partition key shaped like the cache stage's: ``<16 hex tenant token>:<64 hex digest>``."""
    return tenant_prefix(tenant) + hashlib.sha256(rest.encode()).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    s = RedisServer(tmp_path_factory.mktemp("redis-server")).start()
    yield s
    s.kill()


_indexes = iter(range(1_000_000))


@pytest.fixture
async def make_cache(server: RedisServer) -> AsyncIterator[Callable[..., RedisCache]]:
    """Factory for caches on a fresh index of the shared server."""
    made: list[RedisCache] = []

    def make(**kw: Any) -> RedisCache:
        kw.setdefault("index", f"t{next(_indexes)}")
        kw.setdefault("timeout_s", 10.0)  # generous: CI machines are busy; speed is measured in bench/
        cache = RedisCache(server.url, **kw)
        made.append(cache)
        return cache

    yield make
    for c in made:
        await c.aclose()


@pytest.fixture
async def cache(make_cache: Callable[..., RedisCache]) -> RedisCache:
    c = make_cache()
    await c.connect()
    return c


async def test_hit_miss_and_threshold(cache: RedisCache) -> None:
    v = unit(1)
    p = key("tenant-a")
    await cache.store(v, p, answer("four"), 3600, "math", NOW, decision="default")

    exact = await cache.lookup(v, p, 0.9, NOW + 1)
    assert exact is not None and exact.answer.content == "four"
    assert exact.similarity == pytest.approx(1.0, abs=1e-4)

    close = await cache.lookup(near(v, 0.95, 2), p, 0.9, NOW + 1)
    assert close is not None and close.entry_id == exact.entry_id
    assert close.similarity == pytest.approx(0.95, abs=1e-3)  # 1 - the cosine distance the index returns

    assert await cache.lookup(near(v, 0.95, 2), p, 0.97, NOW + 1) is None  # below a stricter threshold
    assert await cache.lookup(unit(3), p, 0.5, NOW + 1) is None  # unrelated question

    st = cache.stats()
    assert (st["hits"], st["misses"], st["stores"]) == (2, 2, 1)
    assert st["backend"] == "redis" and st["connected"] is True and st["index_type"].startswith("HNSW")


async def test_best_of_several_entries_wins(cache: RedisCache) -> None:
    v = unit(10)
    p = key("t")
    await cache.store(near(v, 0.92, 11), p, answer("farther"), 3600, None, NOW)
    await cache.store(near(v, 0.98, 12), p, answer("closer"), 3600, None, NOW)
    hit = await cache.lookup(v, p, 0.9, NOW)
    assert hit is not None and hit.answer.content == "closer"


# Keys that would break or widen a query if they were spliced into one.
NASTY_KEYS = [
    'a"b',
    "a'b",
    "back\\slash",
    'end\\"',
    "ünï€ódé 日本",
    "new\nline",
    "100%",
    "under_score",
    "} | @pkey:{*",
    "a,b",
    "*",
    "sep\x1fkey",
    "",
]


async def test_partition_isolation(cache: RedisCache) -> None:
    v = unit(20)
    a, b = key("tenant-a", "conv"), key("tenant-b", "conv")
    await cache.store(v, a, answer("for A"), 3600, None, NOW)
    assert await cache.lookup(v, b, 0.5, NOW) is None  # the very same vector, another tenant: miss
    assert await cache.lookup(v, a[:-1], 0.5, NOW) is None  # a key that is a prefix of A's: miss
    hit = await cache.lookup(v, a, 0.5, NOW)
    assert hit is not None and hit.answer.content == "for A"

    w = unit(21)
    for i, k in enumerate(NASTY_KEYS):
        await cache.store(w, k, answer(f"answer {i}"), 3600, None, NOW)
    for i, k in enumerate(NASTY_KEYS):
        got = await cache.lookup(w, k, 0.5, NOW)
        assert got is not None and got.answer.content == f"answer {i}", k
    assert await cache.lookup(w, "under-score", 0.5, NOW) is None
    assert await cache.lookup(w, "100", 0.5, NOW) is None
    assert await cache.lookup(w, "a", 0.5, NOW) is None  # "a,b" is one key, not the tags "a" and "b"


async def test_isolation_holds_among_many_partitions(cache: RedisCache) -> None:
    """The KNN ranks only the partition's own entries: 300 closer vectors in other partitions do not hide
    the one entry of the asked partition (a post-filter on a global top-k would)."""
    v = unit(22)
    others = np.stack([near(v, 0.999, 1000 + i) for i in range(300)])
    await cache.bulk_load(others, key("crowd"), answer("crowd"), 3600, NOW)
    await cache.store(near(v, 0.9, 23), key("mine"), answer("mine"), 3600, None, NOW)
    hit = await cache.lookup(v, key("mine"), 0.85, NOW)
    assert hit is not None and hit.answer.content == "mine"
    assert hit.similarity == pytest.approx(0.9, abs=1e-3)


async def test_ttl_expiry_per_entry(cache: RedisCache) -> None:
    v = unit(30)
    short, long = key("t", "short"), key("t", "long")
    await cache.store(v, short, answer("short-lived"), 10, "chat", NOW)
    await cache.store(v, long, answer("long-lived"), 1000, "math", NOW)
    assert await cache.lookup(v, short, 0.9, NOW + 9.9) is not None
    assert await cache.lookup(v, short, 0.9, NOW + 10) is None  # past its TTL by the caller's clock: filtered
    assert await cache.lookup(v, long, 0.9, NOW + 10) is not None
    assert await cache.count() == 2  # the server's clock has not reached 10 s yet

    assert await cache.sweep(NOW + 10) == 1
    assert await cache.count() == 1
    assert cache.stats()["expirations"] == 1
    assert await cache.lookup(v, long, 0.9, NOW + 999) is not None
    assert await cache.lookup(v, long, 0.9, NOW + 1000) is None


async def test_the_server_expires_entries_itself(cache: RedisCache) -> None:
    """TTL is the store's own expiry: without any sweep, the entry and its index document are gone once
    the TTL has passed on the server's clock."""
    now = time.time()
    await cache.store(unit(32), key("t"), answer("brief"), 0.3, None, now)
    await cache.store(unit(33), key("t"), answer("stays"), 3600, None, now)
    assert await cache.count() == 2
    await _wait_async(lambda: cache.count(), 1)
    assert await cache.lookup(unit(33), key("t"), 0.9, time.time()) is not None


async def test_zero_ttl_stores_nothing(cache: RedisCache) -> None:
    await cache.store(unit(31), key("t"), answer("never"), 0, None, NOW)
    assert await cache.count() == 0


async def test_invalidate_by_tenant_decision_age_and_flush(cache: RedisCache) -> None:
    v = unit(40)
    rows = [
        ("alice", "math", NOW - 100),
        ("alice", "chat", NOW),
        ("bob", "math", NOW - 100),
        ("bob", "chat", NOW),
        ("carol", None, NOW),
    ]
    for i, (tenant, decision, created) in enumerate(rows):
        await cache.store(
            v, key(tenant, str(i)), answer(f"{tenant}/{decision}"), 3600, None, created, decision=decision
        )

    assert await cache.invalidate(partition_prefix=tenant_prefix("alice")) == 2
    assert await cache.lookup(v, key("alice", "0"), 0.5, NOW) is None
    assert await cache.lookup(v, key("bob", "2"), 0.5, NOW) is not None

    assert await cache.invalidate(decision="math") == 1  # bob/math (alice/math is gone already)
    assert await cache.lookup(v, key("bob", "2"), 0.5, NOW) is None
    assert await cache.lookup(v, key("bob", "3"), 0.5, NOW) is not None

    await cache.store(v, key("dave", "old"), answer("old"), 3600, None, NOW - 50)
    assert await cache.invalidate(older_than=NOW - 10) == 1
    assert await cache.invalidate(partition_prefix=tenant_prefix("bob"), decision="nope") == 0  # all must match

    assert await cache.count() == 2  # bob/chat, carol
    assert await cache.invalidate() == 2  # flush
    assert await cache.count() == 0
    assert cache.stats()["invalidations"] == 6


async def test_invalidate_a_prefix_that_is_not_a_tenant_token(cache: RedisCache) -> None:
    """A prefix other than ``"<token>:"`` goes through the raw-partition tag, escaped: it drops exactly
    the partitions starting with it, '.' and '-' included literally."""
    for p in ("ab.c-1", "ab.c-2", "abxc-3", "zz"):
        await cache.store(unit(42), p, answer(p), 3600, None, NOW)
    assert await cache.invalidate(partition_prefix="ab.c-") == 2
    assert await cache.lookup(unit(42), "abxc-3", 0.9, NOW) is not None
    assert await cache.count() == 2


@pytest.mark.parametrize("prefix", ["100%", "a_b", 'x"', "back\\", "日本", "a*", "{b}"])
async def test_invalidate_rejects_prefixes_it_cannot_match_literally(cache: RedisCache, prefix: str) -> None:
    await cache.store(unit(41), "100%abc", answer("kept"), 3600, None, NOW)
    with pytest.raises(ValueError):
        await cache.invalidate(partition_prefix=prefix)
    assert await cache.count() == 1


async def test_answer_round_trip_keeps_every_field(cache: RedisCache) -> None:
    full = CachedAnswer(
        content='Voilà — «quoted» "text" with\nnewlines and emoji 🎉',
        model="qwen-7b",
        created=NOW - 3.25,
        finish_reason="tool_calls",
        reasoning_content="First think, then answer.",
        tool_calls=[
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": [1, 2, null]}'}}
        ],
        usage={"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46, "details": {"cached": 0}},
        prompt="what is the capital of france",
        origin={"decision": "geography", "model": "qwen-7b", "partition": "t:abc"},
    )
    assert all(getattr(full, f.name) != f.default for f in dataclasses.fields(CachedAnswer))
    v = unit(50)
    await cache.store(v, key("t"), full, 3600, None, NOW)
    hit = await cache.lookup(v, key("t"), 0.9, NOW)
    assert hit is not None and hit.answer == full

    big = answer("x" * 200_000, reasoning_content="y" * 50_000)
    await cache.store(unit(51), key("t", "big"), big, 3600, None, NOW)
    hit = await cache.lookup(unit(51), key("t", "big"), 0.9, NOW)
    assert hit is not None and hit.answer == big


async def test_category_quotas_then_max_entries_drop_the_oldest_rows(make_cache: Callable[..., RedisCache]) -> None:
    """The sweep trims each category over its quota to its newest entries, then the whole index to
    ``max_entries``; a category without a quota is only touched by the global limit. Category names need
    no restriction (they are matched by digest): one has a quote and a newline."""
    odd = 'say "hi"\nthere'
    cache = make_cache(category_quota={"chat": 3, odd: 2}, max_entries=8)
    await cache.connect()
    # the first call starts a background sweep; let it finish on the (single) maintenance thread first, or
    # it may run midway through the stores below and evict one of them itself
    assert await cache.lookup(unit(99), key("t", "chat"), 0.99, NOW) is None
    await cache.count()
    rows = [("chat", i) for i in range(6)] + [(odd, i) for i in range(4)] + [("math", i) for i in range(3)]
    for n, (category, i) in enumerate(rows):
        await cache.store(unit(100 + n), key("t", category), answer(f"{category} {i}"), 3600, category, NOW + n)

    async def kept(category: str) -> list[int]:
        found = []
        for n, (c, i) in enumerate(rows):
            if c == category and await cache.lookup(unit(100 + n), key("t", c), 0.99, NOW + 50) is not None:
                found.append(i)
        return found

    assert await cache.sweep(NOW + 20) == 3 + 2
    assert (await kept("chat"), await kept(odd), await kept("math")) == ([3, 4, 5], [2, 3], [0, 1, 2])
    assert await cache.count() == 8 and cache.stats()["evictions"] == 5

    for j in range(3, 5):
        n = len(rows)
        rows.append(("math", j))
        await cache.store(unit(100 + n), key("t", "math"), answer(f"math {j}"), 3600, "math", NOW + n)
    assert await cache.sweep(NOW + 30) == 2
    assert await cache.count() == 8
    assert (await kept("chat"), await kept(odd), await kept("math")) == ([5], [2, 3], [0, 1, 2, 3, 4])
    assert await cache.sweep(NOW + 31) == 0


async def test_quotas_are_enforced_by_the_background_sweep(make_cache: Callable[..., RedisCache]) -> None:
    cache = make_cache(category_quota={"chat": 2}, sweep_interval_s=0.05)
    await cache.connect()
    for i in range(5):
        await cache.store(unit(200 + i), key("t"), answer(f"chat {i}"), 3600, "chat", NOW + i)
    deadline = time.monotonic() + HANG_GUARD_S
    while await cache.count() > 2:
        assert time.monotonic() < deadline, cache.stats()
        await asyncio.sleep(0.1)
        await cache.lookup(unit(0), key("t"), 0.99, NOW)
    assert await cache.lookup(unit(204), key("t"), 0.99, NOW) is not None
    assert await cache.lookup(unit(202), key("t"), 0.99, NOW) is None
    assert cache.stats()["evictions"] == 3


async def test_existing_index_with_another_dimension_is_refused(make_cache: Callable[..., RedisCache]) -> None:
    first = make_cache()
    await first.connect()
    other = make_cache(index=first.index, dim=8)
    with pytest.raises(RedisUnavailable, match="another schema"):
        await other.connect()


async def test_entries_reopen_from_the_same_index(make_cache: Callable[..., RedisCache]) -> None:
    first = make_cache()
    await first.connect()
    await first.store(unit(60), key("t"), answer("persisted"), 3600, None, NOW)
    await first.aclose()
    again = make_cache(index=first.index)
    await again.connect()
    hit = await again.lookup(unit(60), key("t"), 0.9, NOW)
    assert hit is not None and hit.answer.content == "persisted"


async def test_drop_index_then_a_fresh_empty_one(make_cache: Callable[..., RedisCache]) -> None:
    cache = make_cache()
    await cache.connect()
    await cache.store(unit(61), key("t"), answer("gone soon"), 3600, None, NOW)
    await cache.drop_index()
    assert cache.stats()["connected"] is False
    await cache.connect()
    assert await cache.count() == 0
    assert await cache.lookup(unit(61), key("t"), 0.9, NOW) is None


async def test_an_index_lost_under_a_running_router_is_made_again(make_cache: Callable[..., RedisCache]) -> None:
    """A restarted server without persistence has no index: the first failing call says so, set-up runs
    again off-request, and calls work again without anyone reconnecting by hand."""
    cache = make_cache()
    await cache.connect()
    other = make_cache(index=cache.index)
    await other.connect()
    await other.drop_index()  # what a restart without data looks like to `cache`
    with pytest.raises(RedisUnavailable, match="no such index"):
        await cache.lookup(unit(62), key("t"), 0.9, NOW)
    await _until_ok(lambda: cache.store(unit(62), key("t"), answer("again"), 3600, None, NOW))
    assert await cache.lookup(unit(62), key("t"), 0.9, NOW) is not None


async def test_a_slow_call_fails_without_dropping_the_connection(
    make_cache: Callable[..., RedisCache], server: RedisServer
) -> None:
    """A server that answers after the deadline (every client paused with ``CLIENT PAUSE``) makes the call
    fail as a timeout: counted, but the store is not marked down and is not set up again."""
    import redis

    cache = make_cache(timeout_s=0.3)
    await cache.connect()
    await cache.store(unit(80), key("t"), answer("ok"), 3600, None, NOW)
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("CLIENT", "PAUSE", "5000", "ALL")
    try:
        with pytest.raises(RedisUnavailable, match="timed out"):
            await asyncio.wait_for(cache.lookup(unit(80), key("t"), 0.9, NOW), HANG_GUARD_S)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    st = cache.stats()
    assert st["timeouts"] == 1 and st["errors"] == 0 and st["connected"] is True
    assert await cache.lookup(unit(80), key("t"), 0.9, NOW) is not None  # at once: no retry interval
    assert cache.stats()["reconnects"] == 1  # set up once: a slow call is no outage


async def test_calls_beyond_the_pool_fail_at_once_without_marking_the_store_down(
    make_cache: Callable[..., RedisCache],
) -> None:
    """With every connection busy, a call fails at once (``rejected``): the store is saturated, not down,
    so nothing waits in a queue and the next call goes through."""
    cache = make_cache(max_connections=1)
    await cache.connect()
    await cache.store(unit(85), key("t"), answer("x"), 3600, None, NOW)
    results = await asyncio.gather(
        *(cache.lookup(unit(85), key("t"), 0.9, NOW) for _ in range(4)), return_exceptions=True
    )
    assert any(isinstance(r, RedisUnavailable) and "busy" in str(r) for r in results), results
    assert any(r is not None and not isinstance(r, BaseException) for r in results), results
    st = cache.stats()
    assert st["rejected"] >= 1 and st["errors"] == 0 and st["connected"] is True
    assert await cache.lookup(unit(85), key("t"), 0.9, NOW) is not None


def test_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMROUTER_TEST_REDIS_PASSWORD", "s3cret")
    cfg = CacheConfig.model_validate(
        {
            "backend": "redis",
            "timeout_s": 0.2,
            "max_entries": 50,
            "categories": {"math": {"max_entries": 7}, "chat": {"threshold": 0.9}},
            "redis": {
                "url": "redis://cache.example:6380/2",
                "index": "from_config",
                "password_env": "SEMROUTER_TEST_REDIS_PASSWORD",
                "retry_interval_s": 3,
                "hnsw": {"m": 24, "ef_runtime": 100},
            },
        }
    )
    cache = create_backend(cfg)
    try:
        assert isinstance(cache, RedisCache)
        assert (cache.url, cache.index, cache.timeout_s, cache.retry_interval_s) == (
            "redis://cache.example:6380/2",
            "from_config",
            0.2,
            3,
        )
        assert cache._password == "s3cret" and cache.dim == 384
        assert (cache.max_entries, cache.category_quota) == (50, {"math": 7})
        assert (cache.m, cache.ef_construction, cache.ef_runtime) == (24, 200, 100)
    finally:
        cache.close()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"url": "http://127.0.0.1:6379"}, "redis://"),
        ({"index": "bad name"}, "index name"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"ef_runtime": 0}, "ef_runtime"),
    ],
)
def test_bad_settings_fail_at_construction(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RedisCache(**{"url": "redis://127.0.0.1:1/0", **kw})


async def test_a_wrong_vector_is_a_clear_error(cache: RedisCache) -> None:
    with pytest.raises(ValueError, match=r"\(384,\) vector"):
        await cache.lookup(np.zeros(8, np.float32), key("t"), 0.9, NOW)
    with pytest.raises(ValueError, match="finite"):
        await cache.lookup(unit(1), key("t"), 0.9, float("nan"))


async def test_server_down_then_back(tmp_path: pathlib.Path) -> None:
    """Killing the server makes calls fail promptly (no pile-up); after a restart on the same port (empty:
    no persistence) the same backend object recreates its index and works again."""
    server = RedisServer(tmp_path / "down").start()
    cache = RedisCache(server.url, index="down", timeout_s=2.0, connect_timeout_s=2.0, retry_interval_s=0.2)
    try:
        await cache.connect()
        v = unit(70)
        await cache.store(v, key("t"), answer("before"), 3600, None, NOW)
        assert await cache.lookup(v, key("t"), 0.9, NOW) is not None

        server.kill()
        with pytest.raises(RedisUnavailable):
            await asyncio.wait_for(cache.lookup(v, key("t"), 0.9, NOW), HANG_GUARD_S)
        with pytest.raises(RedisUnavailable):
            await asyncio.wait_for(cache.store(v, key("t"), answer("during"), 3600, None, NOW), HANG_GUARD_S)

        started = time.monotonic()
        burst = [asyncio.wait_for(cache.lookup(v, key("t"), 0.9, NOW), HANG_GUARD_S) for _ in range(40)]
        results = await asyncio.gather(*burst, return_exceptions=True)
        assert all(isinstance(r, RedisUnavailable) for r in results), results
        assert time.monotonic() - started < 1.0  # failed fast, not each after a timeout
        await _wait(lambda: cache.stats()["pending_calls"] == 0)
        down = cache.stats()
        assert down["connected"] is False and down["errors"] >= 1 and down["last_error"]

        server.start()
        await _until_ok(lambda: cache.store(unit(71), key("t", "after"), answer("after"), 3600, None, NOW))
        assert cache.stats()["connected"] is True
        hit = await cache.lookup(unit(71), key("t", "after"), 0.9, NOW)
        assert hit is not None and hit.answer.content == "after"
        assert await cache.lookup(v, key("t"), 0.9, NOW) is None  # the restarted server kept nothing
    finally:
        await cache.aclose()
        server.kill()


async def test_unreachable_server_from_the_start() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", index="c", connect_timeout_s=0.5)
    try:
        with pytest.raises(RedisUnavailable, match="connect"):
            await asyncio.wait_for(cache.connect(), HANG_GUARD_S)
        assert cache.ready and cache.stats()["starting"] is False
        with pytest.raises(RedisUnavailable) as failed:  # within retry_interval_s: no other attempt
            await asyncio.wait_for(cache.lookup(unit(1), key("t"), 0.9, NOW), HANG_GUARD_S)
        assert not isinstance(failed.value, RedisNotReady)  # down, not starting: the stage counts a fault
        assert cache.stats()["reconnects"] == 0
    finally:
        await cache.aclose()


async def test_first_set_up_runs_in_the_background(server: RedisServer) -> None:
    """A request never pays for the set-up: before it has ended, lookups and stores raise
    ``RedisNotReady`` at once, which the cache service turns into a ``not_ready`` bypass (no fault, the
    breaker untouched). A server that accepts TCP but never answers keeps the set-up running for its
    connect timeout; a live one is then set up by the next attempt."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        backend = RedisCache(
            f"redis://127.0.0.1:{silent.getsockname()[1]}/0", index="warm", connect_timeout_s=1.0, retry_interval_s=0.1
        )
        service = CacheService(backend)
        cfg = CacheConfig(timeout_s=0.05)
        try:
            with pytest.raises(BackendUnavailable) as skipped:  # nobody called start(): this call starts it
                await service.call("lookup", lambda: backend.lookup(unit(1), key("t"), 0.9, NOW), cfg)
            assert skipped.value.reason == "not_ready"
            assert backend.stats()["starting"] is True and backend.stats()["connected"] is False
            with pytest.raises(RedisNotReady):
                await backend.store(unit(1), key("t"), answer("early"), 3600, None, NOW)
            for _ in range(5):
                with pytest.raises(BackendUnavailable, match="not_ready"):
                    await service.call("lookup", lambda: backend.lookup(unit(1), key("t"), 0.9, NOW), cfg)
            assert service.faults == {} and service.breaker.state(time.monotonic())["opened"] == 0
            await _wait(lambda: backend.ready)
            st = backend.stats()
            assert (st["connected"], st["starting"], st["reconnects"]) == (False, False, 0)
        finally:
            await backend.aclose()

    backend = RedisCache(server.url, index="warm_live", timeout_s=HANG_GUARD_S)
    service = CacheService(backend)
    try:
        service.start()
        assert await service.wait_started()
        assert backend.stats()["connected"] is True
        cfg = CacheConfig(timeout_s=HANG_GUARD_S)
        await service.call("store", lambda: backend.store(unit(2), key("t"), answer("later"), 3600, None, NOW), cfg)
        hit = await service.call("lookup", lambda: backend.lookup(unit(2), key("t"), 0.9, NOW), cfg)
        assert hit is not None and hit.answer.content == "later"
        assert service.faults == {}
    finally:
        await backend.aclose()


async def _wait(check: Callable[[], bool], timeout: float = HANG_GUARD_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def _wait_async(get: Callable[[], Any], want: Any, timeout: float = HANG_GUARD_S) -> None:
    deadline = time.monotonic() + timeout
    while (got := await get()) != want:
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.05)


async def _until_ok(call: Callable[[], Any], timeout: float = HANG_GUARD_S) -> None:
    """Repeat ``call`` until it does not raise :class:`RedisUnavailable` (a reconnect in progress)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await call()
            return
        except RedisUnavailable:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


# -- through the proxy ---------------------------------------------------------------------------------


def _chat(router: Any, text: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    return http_json("POST", router.url + "/v1/chat/completions", body, headers)


def _until_hit(router: Any, text: str, headers: dict[str, str] | None = None) -> tuple[dict[str, str], Any]:
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        status, h, body = _chat(router, text, headers)
        assert status == 200, body
        if h.get("x-vsr-cache-hit") == "true":
            return h, body
        assert time.monotonic() < deadline, http_json("GET", router.url + "/api/v1/cache/stats")[2]
        time.sleep(0.2)


def _ready_when(router: Any) -> dict[str, Any]:
    """Poll ``/ready`` until it says 200 (the router waits for the backend's first set-up before it does);
    the cache stats read right after it did."""
    deadline = time.monotonic() + HANG_GUARD_S
    while (ready := http_json("GET", router.url + "/ready"))[0] != 200:
        assert ready[2]["starting"] is True, ready  # the only reason it is not ready here
        assert time.monotonic() < deadline, ready
        time.sleep(0.02)
    return http_json("GET", router.url + "/api/v1/cache/stats")[2]  # type: ignore[no-any-return]


def test_proxy_hits_from_redis_and_serves_when_it_dies(
    start_worker: Callable[..., Any], start_router: Callable[..., Any], tmp_path: pathlib.Path
) -> None:
    server = RedisServer(tmp_path / "proxy").start()
    try:
        w = start_worker("m1")
        cache = {
            "enabled": True,
            "backend": "redis",
            "timeout_s": 2.0,
            "redis": {"url": server.url, "index": "proxy", "connect_timeout_s": 2.0, "retry_interval_s": 0.2},
            "circuit_breaker": {"failures": 3, "backoff_s": 0.2, "max_backoff_s": 0.4},
        }
        r = start_router(simple_config({"m1": [w.url]}, cache=cache))
        st = _ready_when(r)
        assert st["backend"]["connected"] is True, st  # ready means set up: readiness waited for it
        q = "What is cognitive dissonance?"
        h, body = _until_hit(r, q, {"x-fake-reply": "A mental conflict."})
        assert body["choices"][0]["message"]["content"] == "A mental conflict."
        assert float(h["x-vsr-cache-similarity"]) == pytest.approx(1.0, abs=1e-3)
        calls = len(w.requests())
        _, h, body = _chat(r, q)
        assert h["x-vsr-cache-hit"] == "true" and len(w.requests()) == calls
        st = http_json("GET", r.url + "/api/v1/cache/stats")[2]
        assert st["backend"]["backend"] == "redis" and st["backend"]["hits"] >= 2

        server.kill()
        for i in range(5):
            status, h, body = _chat(r, q, {"x-fake-reply": f"fresh {i}"})
            assert status == 200 and h.get("x-vsr-cache-hit") != "true"
            assert body["choices"][0]["message"]["content"] == f"fresh {i}"
        assert len(w.requests()) == calls + 5
        assert http_json("GET", r.url + "/api/v1/cache/stats")[2]["stage"]["faults"] >= 1

        server.start()  # empty after the restart: the router recreates the index and stores again
        h, body = _until_hit(r, q, {"x-fake-reply": "Stored again."})
        assert body["choices"][0]["message"]["content"] == "Stored again."
    finally:
        server.kill()


def test_ready_without_the_cache_when_redis_never_answers(
    start_worker: Callable[..., Any], start_router: Callable[..., Any]
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        w = start_worker("m1")
        redis = {"url": f"redis://127.0.0.1:{silent.getsockname()[1]}/0", "connect_timeout_s": 1.0}
        r = start_router(simple_config({"m1": [w.url]}, cache={"enabled": True, "backend": "redis", "redis": redis}))
        st = _ready_when(r)
        assert st["backend"]["connected"] is False and st["backend"]["starting"] is False, st
        status, h, body = _chat(r, "What is the speed of light?", {"x-fake-reply": "Fast."})
        assert status == 200 and h["x-vsr-cache-hit"] == "false" and body["choices"][0]["message"]["content"] == "Fast."


# -- the Helm chart ------------------------------------------------------------------------------------


def _chart(values: dict[str, Any]) -> dict[str, Any]:
    """The rendered chart's router ConfigMap config and the router container's environment."""
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed (pip install -e '.[test]')")
    import yaml

    chart_dir = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "helm" / "semrouter"
    with helm.Chart.load(str(chart_dir)) as chart:
        rendered = dict(chart.render(values, name="semrouter", namespace="llm"))
    docs = [d for name, text in rendered.items() if name.endswith(".yaml") for d in yaml.safe_load_all(text) if d]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "semrouter-config"]
    (deploy,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "semrouter-router"]
    env = {e["name"]: e for c in deploy["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    return {
        "config": yaml.safe_load(cm["data"]["router.yaml"]),
        "env": env,
        "notes": rendered.get("semrouter/templates/NOTES.txt", ""),
    }


def test_the_chart_switches_the_cache_to_redis_when_given_a_url() -> None:
    default = _chart({})
    assert default["config"]["cache"]["backend"] == "milvus" and "SEMROUTER_REDIS_URL" not in default["env"]

    out = _chart({"redis": {"url": "redis://redis-stack:6379/0", "passwordSecret": {"name": "redis-auth"}}})
    cache = out["config"]["cache"]
    assert cache["backend"] == "redis" and "milvus" not in cache
    assert cache["redis"] == {
        "url": "${SEMROUTER_REDIS_URL}",
        "index": "${SEMROUTER_REDIS_INDEX:-semrouter_cache}",
        "password_env": "SEMROUTER_REDIS_PASSWORD",
    }
    assert out["env"]["SEMROUTER_REDIS_URL"]["value"] == "redis://redis-stack:6379/0"
    assert "Redis (vector search) at redis://redis-stack:6379/0" in out["notes"]
    assert out["env"]["SEMROUTER_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-auth",
        "key": "password",
    }
    # what the replicas will load: a valid config whose cache is the redis backend
    parsed = CacheConfig.model_validate({**cache, "redis": {**cache["redis"], "url": "redis://redis-stack:6379/0"}})
    assert parsed.backend == "redis"


# -- semrouter fleet --cache redis ---------------------------------------------------------------------


def test_fleet_refuses_a_config_whose_cache_is_not_the_store_it_starts(tmp_path: pathlib.Path) -> None:
    """``--cache redis`` with a config that still says ``backend: milvus`` would start replicas that never
    share the store the launcher started: it stops before starting anything, saying why."""
    import argparse

    import yaml

    from semrouter.devtools.fleet import FleetLauncher, add_parser

    cfg = simple_config({"m1": ["http://127.0.0.1:9"]}, cache={"enabled": True, "backend": "milvus"})
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(cfg))
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["fleet", "--config", str(path), "--cache", "redis", "--redis-url", "redis://127.0.0.1:9/0"]
    )
    args.run_dir = str(tmp_path / "run")
    launcher = FleetLauncher(args)
    with pytest.raises(SystemExit, match=r"cache\.backend is milvus but the fleet was started with --cache redis"):
        launcher.start()
    assert launcher.procs == {}  # nothing was started
