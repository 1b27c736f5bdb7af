"""The in-process cache backend: what may hit, what must miss, and what capacity limits drop first."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from semrouter.cache import CacheBackend, CachedAnswer
from semrouter.cache.memory import HAVE_USEARCH, MemoryCache

DIM = 384
T0 = 1_000_000.0


def unit(seed: int) -> npt.NDArray[np.float32]:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def near(base: npt.NDArray[np.float32], cosine: float, seed: int) -> npt.NDArray[np.float32]:
    """A unit vector at exactly ``cosine`` from ``base`` (base must be unit)."""
    noise = unit(seed + 10_000)
    noise -= (noise @ base) * base
    noise /= np.linalg.norm(noise)
    v = cosine * base + np.sqrt(1 - cosine**2) * noise
    return (v / np.linalg.norm(v)).astype(np.float32)


def answer(text: str) -> CachedAnswer:
    return CachedAnswer(content=text, model="m1", created=T0, reasoning_content="why", usage={"total_tokens": 3})


def test_is_a_backend() -> None:
    assert isinstance(MemoryCache(), CacheBackend)


async def test_hit_and_miss_at_threshold() -> None:
    cache = MemoryCache()
    base = unit(1)
    await cache.store(base, "p", answer("a"), 60, "math", T0)
    hit = await cache.lookup(near(base, 0.95, 2), "p", 0.94, T0)
    assert hit is not None and hit.answer.content == "a" and hit.answer.reasoning_content == "why"
    assert hit.similarity == pytest.approx(0.95, abs=1e-4)
    assert await cache.lookup(near(base, 0.93, 3), "p", 0.94, T0) is None
    assert await cache.lookup(unit(4), "p", 0.5, T0) is None  # unrelated vector


async def test_best_entry_wins() -> None:
    cache = MemoryCache()
    base = unit(1)
    await cache.store(near(base, 0.90, 5), "p", answer("far"), 60, None, T0)
    await cache.store(near(base, 0.99, 6), "p", answer("close"), 60, None, T0)
    hit = await cache.lookup(base, "p", 0.8, T0)
    assert hit is not None and hit.answer.content == "close"


async def test_partition_isolation() -> None:
    cache = MemoryCache()
    v = unit(1)
    await cache.store(v, "tenant-a|general|sys1", answer("for A"), 60, None, T0)
    assert await cache.lookup(v, "tenant-b|general|sys1", 0.5, T0) is None
    assert await cache.lookup(v, "tenant-a|general|sys2", 0.5, T0) is None
    await cache.store(v, "tenant-b|general|sys1", answer("for B"), 60, None, T0)
    hit_a = await cache.lookup(v, "tenant-a|general|sys1", 0.99, T0)
    hit_b = await cache.lookup(v, "tenant-b|general|sys1", 0.99, T0)
    assert hit_a is not None and hit_a.answer.content == "for A"
    assert hit_b is not None and hit_b.answer.content == "for B"


async def test_ttl_expiry_never_served_and_cleaned() -> None:
    cache = MemoryCache()
    v = unit(1)
    await cache.store(v, "p", answer("short"), 10, None, T0)
    await cache.store(near(v, 0.97, 2), "p", answer("long"), 100, None, T0)
    hit = await cache.lookup(v, "p", 0.9, T0 + 9.9)
    assert hit is not None and hit.answer.content == "short"
    hit = await cache.lookup(v, "p", 0.9, T0 + 10)  # the closer entry expired: the other one answers
    assert hit is not None and hit.answer.content == "long"
    assert len(cache) == 1 and cache.stats()["expirations"] == 1
    assert await cache.lookup(v, "p", 0.9, T0 + 100) is None
    assert len(cache) == 0


async def test_expired_entries_swept_on_store() -> None:
    cache = MemoryCache()
    for i in range(5):
        await cache.store(unit(i), f"p{i}", answer(str(i)), 5, None, T0)
    await cache.store(unit(99), "other", answer("x"), 5, None, T0 + 6)
    assert len(cache) == 1 and cache.stats()["partitions"] == 1


async def test_lru_eviction_order() -> None:
    cache = MemoryCache(max_entries=3)
    vs = [unit(i) for i in range(4)]
    for i in range(3):
        await cache.store(vs[i], "p", answer(str(i)), 60, None, T0 + i)
    assert await cache.lookup(vs[0], "p", 0.99, T0 + 3) is not None  # 0 becomes most recently used
    await cache.store(vs[3], "p", answer("3"), 60, None, T0 + 4)  # evicts 1, the least recently used
    assert await cache.lookup(vs[1], "p", 0.99, T0 + 5) is None
    for i in (0, 2, 3):
        hit = await cache.lookup(vs[i], "p", 0.99, T0 + 5)
        assert hit is not None and hit.answer.content == str(i)
    assert cache.stats()["evictions"] == 1


async def test_category_quota_protects_other_categories() -> None:
    cache = MemoryCache(max_entries=10, category_quota={"chat": 3})
    math = [unit(100 + i) for i in range(4)]
    for i, v in enumerate(math):
        await cache.store(v, "p", answer(f"math{i}"), 60, "math", T0)
    for i in range(20):  # a flood of chat entries
        await cache.store(unit(i), "p", answer(f"chat{i}"), 60, "chat", T0 + i)
    st = cache.stats()
    assert st["per_category"] == {"math": 4, "chat": 3}
    for v in math:
        assert await cache.lookup(v, "p", 0.99, T0 + 30) is not None
    assert await cache.lookup(unit(16), "p", 0.99, T0 + 30) is None  # chat's own oldest went
    assert await cache.lookup(unit(19), "p", 0.99, T0 + 30) is not None


@pytest.mark.parametrize(
    ("max_entries", "quota"),
    [(10, {"math": 1}), (1, None)],
    ids=["category-quota-1", "max-entries-1"],
)
async def test_eviction_of_a_categorys_last_entry_keeps_the_new_one_reachable(
    max_entries: int, quota: dict[str, int] | None
) -> None:
    """Evicting the only entry of a category (quota) or of the whole cache (LRU) before the store must not
    leave the new entry in a forgotten per-category dict: it is then served, used (LRU) and dropped normally."""
    cache = MemoryCache(max_entries=max_entries, category_quota=quota)
    for i in range(3):
        await cache.store(unit(i), "p", answer(str(i)), 60, "math", T0 + i)
        hit = await cache.lookup(unit(i), "p", 0.99, T0 + i)
        assert hit is not None and hit.answer.content == str(i)
        if i:  # the previous entry made room for this one
            assert await cache.lookup(unit(i - 1), "p", 0.99, T0 + i) is None
    st = cache.stats()
    assert (st["entries"], st["evictions"], st["per_category"]) == (1, 2, {"math": 1})
    assert await cache.invalidate() == 1
    assert len(cache) == 0 and cache.stats()["per_category"] == {}


async def test_default_category_quota_and_uncategorised() -> None:
    cache = MemoryCache(max_entries=100, default_category_quota=2)
    for i in range(5):
        await cache.store(unit(i), "p", answer(str(i)), 60, None, T0 + i)
    assert cache.stats()["per_category"] == {"none": 2}


async def test_invalidate_by_prefix_age_and_decision() -> None:
    cache = MemoryCache()
    await cache.store(unit(1), "tenant-a|x", answer("a1"), 60, None, T0, decision="math")
    await cache.store(unit(2), "tenant-a|y", answer("a2"), 60, None, T0 + 10, decision="chat")
    await cache.store(unit(3), "tenant-b|x", answer("b1"), 60, None, T0, decision="math")
    assert await cache.invalidate(partition_prefix="tenant-a|", older_than=T0 + 5) == 1
    assert await cache.lookup(unit(1), "tenant-a|x", 0.99, T0 + 11) is None
    assert await cache.lookup(unit(2), "tenant-a|y", 0.99, T0 + 11) is not None
    assert await cache.invalidate(decision="math") == 1
    assert await cache.lookup(unit(3), "tenant-b|x", 0.99, T0 + 11) is None
    assert await cache.invalidate() == 1
    assert len(cache) == 0 and cache.stats()["invalidations"] == 3


async def test_stats_counts() -> None:
    cache = MemoryCache()
    await cache.store(unit(1), "p", answer("a"), 60, "math", T0)
    await cache.lookup(unit(1), "p", 0.9, T0)
    await cache.lookup(unit(2), "p", 0.9, T0)
    await cache.lookup(unit(1), "q", 0.9, T0)
    st = cache.stats()
    assert (st["entries"], st["hits"], st["misses"], st["stores"]) == (1, 1, 2, 1)
    assert st["per_category"] == {"math": 1}


async def test_zero_ttl_not_stored_and_bad_input_rejected() -> None:
    cache = MemoryCache()
    await cache.store(unit(1), "p", answer("a"), 0, None, T0)
    assert len(cache) == 0
    with pytest.raises(ValueError):
        await cache.lookup(np.zeros(10, dtype=np.float32), "p", 0.9, T0)
    with pytest.raises(ValueError):
        await cache.lookup(unit(1), "p", 0.0, T0)


async def test_slots_reused_after_removal() -> None:
    """Evicted rows are zeroed and reused: a removed vector can never match again, even exactly."""
    cache = MemoryCache(max_entries=2)
    await cache.store(unit(1), "p", answer("1"), 60, None, T0)
    await cache.store(unit(2), "p", answer("2"), 60, None, T0)
    await cache.store(unit(3), "p", answer("3"), 60, None, T0)
    assert await cache.lookup(unit(1), "p", 0.5, T0) is None
    hit = await cache.lookup(unit(3), "p", 0.99, T0)
    assert hit is not None and hit.answer.content == "3"


@pytest.mark.skipif(not HAVE_USEARCH, reason="usearch not installed")
async def test_graph_partition_matches_brute_force_and_tracks_removals() -> None:
    """A partition that outgrows brute force answers through the HNSW graph with exact similarities."""
    n = 300
    rng = np.random.default_rng(0)
    vs = rng.standard_normal((n, DIM)).astype(np.float32)
    vs /= np.linalg.norm(vs, axis=1, keepdims=True)
    cache = MemoryCache(max_entries=n, ann_min_entries=200, background_build=False)
    for i in range(n):  # the graph is built at 200 entries, the last 100 are added to it
        await cache.store(vs[i], "big", answer(str(i)), 60, None, T0)
    part = cache._partitions["big"]
    assert part.graph is not None and len(part.graph) == n
    for i in range(0, n, 7):
        hit = await cache.lookup(near(vs[i], 0.97, i), "big", 0.9, T0)
        assert hit is not None and hit.answer.content == str(i)
        assert hit.similarity == pytest.approx(0.97, abs=1e-4)
        # entries 0, 7, 14, ... were just used: the least recently used is entry 1, evicted from the graph too
        await cache.store(unit(5000), "big", answer("new"), 60, None, T0)
    assert len(part.graph) == n
    assert await cache.lookup(vs[1], "big", 0.99, T0) is None
    assert await cache.lookup(vs[0], "big", 0.99, T0) is not None
    assert await cache.lookup(vs[1], "small", 0.5, T0) is None  # still partitioned


@pytest.mark.skipif(not HAVE_USEARCH, reason="usearch not installed")
async def test_background_graph_build_catches_up_with_concurrent_stores_and_evictions() -> None:
    """Entries stored or evicted while the graph is built in its thread end up right in the graph."""
    n = 400
    cache = MemoryCache(max_entries=350, ann_min_entries=100)
    for i in range(n):  # the build starts at 100 entries; later stores and LRU evictions race with it
        await cache.store(unit(i), "big", answer(str(i)), 60, None, T0)
    cache.wait_for_graphs(timeout=30)
    part = cache._partitions["big"]
    assert part.graph is not None and len(part.graph) == part.size == 350
    assert await cache.lookup(unit(10), "big", 0.99, T0) is None  # evicted (the 50 oldest went)
    for i in range(50, n, 17):
        hit = await cache.lookup(unit(i), "big", 0.99, T0)
        assert hit is not None and hit.answer.content == str(i)
