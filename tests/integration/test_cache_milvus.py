"""The Milvus cache backend against real Milvus: Milvus Lite embedded (a local file) and a Milvus server on a
loopback port (the Milvus Lite binary in address mode, a subprocess this module starts and kills).

Skipped only when pymilvus / milvus-lite are not installed (the ``test`` extra installs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from conftest import simple_config
from servers import free_port, http_json

pytest.importorskip("pymilvus", reason="pymilvus not installed (pip install -e '.[milvus]')")
milvus_lite_server = pytest.importorskip("milvus_lite.server", reason="milvus-lite not installed")

from semrouter.cache.base import CachedAnswer  # noqa: E402
from semrouter.cache.config import CacheConfig  # noqa: E402
from semrouter.cache.milvus import (  # noqa: E402
    MilvusCache,
    MilvusNotReady,
    MilvusUnavailable,
    decode_answer,
    encode_answer,
)
from semrouter.cache.service import BackendUnavailable, CacheService  # noqa: E402

DIM = 384
NOW = 1_700_000_000.0
HANG_GUARD_S = 20.0  # a call that takes longer is hanging (pymilvus retry loops run for minutes)


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


class MilvusServer:
    """The Milvus Lite C++ server listening on ``127.0.0.1:port`` (a real process we can kill)."""

    def __init__(self, data: pathlib.Path) -> None:
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._server = milvus_lite_server.Server(str(data), f"127.0.0.1:{self.port}")
        self._env = {**os.environ, "LD_LIBRARY_PATH": str(pathlib.Path(self._server.milvus_bin).parent)}
        self._cwd = str(data.parent)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MilvusServer:
        self.proc = subprocess.Popen(
            [str(a) for a in self._server.args],
            env=self._env,
            cwd=self._cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvus server exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("milvus server never listened") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    server = MilvusServer(tmp_path_factory.mktemp("milvus-server") / "server.db").start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def lite_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("milvus-lite") / "cache.db")


_collections = iter(range(1_000_000))


@pytest.fixture(params=["lite", "server"])
def make_cache(request: pytest.FixtureRequest, lite_file: str) -> Iterator[Callable[..., MilvusCache]]:
    """Factory for caches on a fresh collection of the embedded file or of the shared server."""
    uri = lite_file if request.param == "lite" else request.getfixturevalue("milvus_server").uri
    made: list[MilvusCache] = []

    def make(**kw: Any) -> MilvusCache:
        kw.setdefault("collection", f"t{next(_collections)}_{os.getpid()}")
        kw.setdefault("timeout_s", 10.0)  # generous: CI machines are busy; speed is measured in bench/
        cache = MilvusCache(uri, **kw)
        made.append(cache)
        return cache

    yield make
    for c in made:
        c.close()


@pytest.fixture
async def cache(make_cache: Callable[..., MilvusCache]) -> AsyncIterator[MilvusCache]:
    c = make_cache()
    await c.connect()
    yield c


async def test_hit_miss_and_threshold(cache: MilvusCache) -> None:
    v = unit(1)
    p = key("tenant-a")
    await cache.store(v, p, answer("four"), 3600, "math", NOW, decision="default")

    exact = await cache.lookup(v, p, 0.9, NOW + 1)
    assert exact is not None and exact.answer.content == "four"
    assert exact.similarity == pytest.approx(1.0, abs=1e-4)

    close = await cache.lookup(near(v, 0.95, 2), p, 0.9, NOW + 1)
    assert close is not None and close.entry_id == exact.entry_id
    assert close.similarity == pytest.approx(0.95, abs=1e-3)  # the cosine itself, as Milvus computes it

    assert await cache.lookup(near(v, 0.95, 2), p, 0.97, NOW + 1) is None  # below a stricter threshold
    assert await cache.lookup(unit(3), p, 0.5, NOW + 1) is None  # unrelated question

    st = cache.stats()
    assert (st["hits"], st["misses"], st["stores"]) == (2, 2, 1)
    assert st["backend"] == "milvus" and st["connected"] is True


async def test_best_of_several_entries_wins(cache: MilvusCache) -> None:
    v = unit(10)
    p = key("t")
    await cache.store(near(v, 0.92, 11), p, answer("farther"), 3600, None, NOW)
    await cache.store(near(v, 0.98, 12), p, answer("closer"), 3600, None, NOW)
    hit = await cache.lookup(v, p, 0.9, NOW)
    assert hit is not None and hit.answer.content == "closer"


# Keys that would break or widen a filter if they were spliced into a Milvus expression.
NASTY_KEYS = [
    'a"b',
    "a'b",
    "back\\slash",
    'end\\"',
    "ünï€ódé 日本",
    "new\nline",
    "100%",
    "under_score",
    '" or pkey != "',
    "",
]


async def test_partition_isolation(cache: MilvusCache) -> None:
    v = unit(20)
    a, b = key("tenant-a", "conv"), key("tenant-b", "conv")
    await cache.store(v, a, answer("for A"), 3600, None, NOW)
    assert await cache.lookup(v, b, 0.5, NOW) is None  # the very same vector, another tenant: miss
    assert await cache.lookup(v, a[:-1], 0.5, NOW) is None  # a key that is a prefix of A's: miss
    hit = await cache.lookup(v, a, 0.5, NOW)
    assert hit is not None and hit.answer.content == "for A"

    # Arbitrary partition strings are matched exactly, never interpreted: each key finds only its own answer.
    w = unit(21)
    for i, k in enumerate(NASTY_KEYS):
        await cache.store(w, k, answer(f"answer {i}"), 3600, None, NOW)
    for i, k in enumerate(NASTY_KEYS):
        got = await cache.lookup(w, k, 0.5, NOW)
        assert got is not None and got.answer.content == f"answer {i}", k
    assert await cache.lookup(w, "under-score", 0.5, NOW) is None  # '_' is no wildcard
    assert await cache.lookup(w, "100", 0.5, NOW) is None  # '%' is no wildcard


async def test_ttl_expiry_per_entry(cache: MilvusCache) -> None:
    v = unit(30)
    short, long = key("t", "short"), key("t", "long")
    await cache.store(v, short, answer("short-lived"), 10, "chat", NOW)
    await cache.store(v, long, answer("long-lived"), 1000, "math", NOW)
    assert await cache.lookup(v, short, 0.9, NOW + 9.9) is not None
    assert await cache.lookup(v, short, 0.9, NOW + 10) is None  # expired: filtered out before deletion
    assert await cache.lookup(v, long, 0.9, NOW + 10) is not None
    assert await cache.count() == 2  # the expired row is still there until a sweep

    assert await cache.sweep(NOW + 10) == 1
    assert await cache.count() == 1
    assert cache.stats()["expirations"] == 1
    assert await cache.lookup(v, long, 0.9, NOW + 999) is not None
    assert await cache.lookup(v, long, 0.9, NOW + 1000) is None


async def test_zero_ttl_stores_nothing(cache: MilvusCache) -> None:
    await cache.store(unit(31), key("t"), answer("never"), 0, None, NOW)
    assert await cache.count() == 0


async def test_invalidate_by_tenant_decision_age_and_flush(cache: MilvusCache) -> None:
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


@pytest.mark.parametrize("prefix", ["100%", "a_b", 'x"', "back\\", "日本"])
async def test_invalidate_rejects_prefixes_it_cannot_match_literally(cache: MilvusCache, prefix: str) -> None:
    await cache.store(unit(41), "100%abc", answer("kept"), 3600, None, NOW)
    with pytest.raises(ValueError):
        await cache.invalidate(partition_prefix=prefix)
    assert await cache.count() == 1


async def test_answer_round_trip_keeps_every_field(cache: MilvusCache) -> None:
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
    # every field is set to a non-default value, so a field the encoder forgot would show up below
    assert all(getattr(full, f.name) != f.default for f in dataclasses.fields(CachedAnswer))
    v = unit(50)
    await cache.store(v, key("t"), full, 3600, None, NOW)
    hit = await cache.lookup(v, key("t"), 0.9, NOW)
    assert hit is not None and hit.answer == full

    big = answer("x" * 200_000, reasoning_content="y" * 50_000)  # long answers are not truncated
    await cache.store(unit(51), key("t", "big"), big, 3600, None, NOW)
    hit = await cache.lookup(unit(51), key("t", "big"), 0.9, NOW)
    assert hit is not None and hit.answer == big


async def test_category_quotas_then_max_entries_drop_the_oldest_rows(make_cache: Callable[..., MilvusCache]) -> None:
    """The sweep trims each category over its quota to its newest rows, then the whole collection to
    ``max_entries``; a category without a quota is only touched by the global limit."""
    cache = make_cache(category_quota={"chat": 3, "computer science": 2}, max_entries=8)
    await cache.connect()
    rows = (
        [("chat", i) for i in range(6)] + [("computer science", i) for i in range(4)] + [("math", i) for i in range(3)]
    )
    for n, (category, i) in enumerate(rows):  # created NOW + n: later rows are newer
        await cache.store(unit(100 + n), key("t", category), answer(f"{category} {i}"), 3600, category, NOW + n)

    async def kept(category: str) -> list[int]:
        found = []
        for n, (c, i) in enumerate(rows):
            if c == category and await cache.lookup(unit(100 + n), key("t", c), 0.99, NOW + 50) is not None:
                found.append(i)
        return found

    assert await cache.sweep(NOW + 20) == 3 + 2  # nothing expired; chat 6 -> 3, computer science 4 -> 2
    assert (await kept("chat"), await kept("computer science"), await kept("math")) == ([3, 4, 5], [2, 3], [0, 1, 2])
    assert await cache.count() == 8 and cache.stats()["evictions"] == 5

    for j in range(3, 5):  # two more uncategorised-by-quota rows: 10 > max_entries, the 2 oldest overall go
        n = len(rows)
        rows.append(("math", j))
        await cache.store(unit(100 + n), key("t", "math"), answer(f"math {j}"), 3600, "math", NOW + n)
    assert await cache.sweep(NOW + 30) == 2
    assert await cache.count() == 8
    assert (await kept("chat"), await kept("computer science"), await kept("math")) == ([5], [2, 3], [0, 1, 2, 3, 4])
    assert await cache.sweep(NOW + 31) == 0  # within every limit now: nothing more goes


async def test_quotas_are_enforced_by_the_background_sweep(make_cache: Callable[..., MilvusCache]) -> None:
    cache = make_cache(category_quota={"chat": 2}, sweep_interval_s=0.05)
    await cache.connect()
    for i in range(5):
        await cache.store(unit(200 + i), key("t"), answer(f"chat {i}"), 3600, "chat", NOW + i)
    deadline = time.monotonic() + HANG_GUARD_S
    while await cache.count() > 2:  # each lookup or store starts a sweep when sweep_interval_s has passed
        assert time.monotonic() < deadline, cache.stats()
        await asyncio.sleep(0.1)
        await cache.lookup(unit(0), key("t"), 0.99, NOW)
    assert await cache.lookup(unit(204), key("t"), 0.99, NOW) is not None  # the newest stay
    assert await cache.lookup(unit(202), key("t"), 0.99, NOW) is None
    assert cache.stats()["evictions"] == 3


@pytest.mark.parametrize("name", ['say "hi"', "back\\slash", "new\nline", "日本", "x" * 257])
def test_quota_on_a_category_name_unfit_for_a_filter_is_refused(lite_file: str, name: str) -> None:
    cfg = CacheConfig.model_validate(
        {"backend": "milvus", "milvus": {"uri": lite_file}, "categories": {name: {"max_entries": 5}}}
    )
    with pytest.raises(ValueError, match=r"cache\.categories\..*max_entries: with the milvus backend"):
        MilvusCache.from_config(cfg)
    MilvusCache.from_config(cfg.model_copy(update={"categories": {}})).close()  # without the quota: fine


def test_encoding_is_generic_over_fields() -> None:
    a = answer("c", prompt="p")
    data = encode_answer(a)
    assert set(data) == {f.name for f in dataclasses.fields(CachedAnswer)}
    assert decode_answer({**data, "added_by_a_newer_version": 1}) == a
    assert decode_answer({"content": "c", "model": "m1", "created": NOW}) == answer("c")


async def test_existing_collection_with_another_dimension_is_refused(make_cache: Callable[..., MilvusCache]) -> None:
    first = make_cache()
    await first.connect()
    other = make_cache(collection=first.collection, dim=8)
    with pytest.raises(MilvusUnavailable, match="another schema"):
        await other.connect()


async def test_entries_reopen_from_the_same_collection(make_cache: Callable[..., MilvusCache]) -> None:
    first = make_cache()
    await first.connect()
    await first.store(unit(60), key("t"), answer("persisted"), 3600, None, NOW)
    first.close()
    again = make_cache(collection=first.collection)
    await again.connect()
    hit = await again.lookup(unit(60), key("t"), 0.9, NOW)
    assert hit is not None and hit.answer.content == "persisted"


async def test_drop_collection_then_a_fresh_empty_one(make_cache: Callable[..., MilvusCache]) -> None:
    cache = make_cache()
    await cache.connect()
    await cache.store(unit(61), key("t"), answer("gone soon"), 3600, None, NOW)
    await cache.drop_collection()
    assert cache.stats()["connected"] is False
    await cache.connect()  # the schema is created again, empty
    assert await cache.count() == 0
    assert await cache.lookup(unit(61), key("t"), 0.9, NOW) is None


async def test_a_slow_call_fails_without_dropping_the_connection(make_cache: Callable[..., MilvusCache]) -> None:
    cache = make_cache(timeout_s=1e-5)  # no RPC answers within 10 µs: a lookup runs into its deadline
    await cache.connect()
    # gRPC's deadline timer races the answer: on a loopback server a fast search can now and then be
    # read before the 10 µs timer fires (one CI run in a few), so up to five tries must meet the deadline
    failures = 0
    for _ in range(5):
        try:
            await asyncio.wait_for(cache.lookup(unit(80), key("t"), 0.9, NOW), HANG_GUARD_S)
        except MilvusUnavailable as exc:
            assert "Deadline" in str(exc), exc
            failures += 1
            break
    assert failures == 1, "no lookup ran into its 10 µs deadline"
    st = cache.stats()
    assert st["timeouts"] == 1 and st["errors"] == 0 and st["connected"] is True
    cache.timeout_s = 10.0
    await cache.store(unit(80), key("t"), answer("ok"), 3600, None, NOW)
    assert await cache.lookup(unit(80), key("t"), 0.9, NOW) is not None
    assert cache.stats()["reconnects"] == 1  # the connection opened first is still the one in use


def test_from_config(lite_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMROUTER_TEST_MILVUS_TOKEN", "root:Milvus")
    cfg = CacheConfig.model_validate(
        {
            "backend": "milvus",
            "timeout_s": 0.2,
            "max_entries": 50,
            "categories": {"math": {"max_entries": 7}, "chat": {"threshold": 0.9}},
            "milvus": {
                "uri": lite_file,
                "collection": "from_config",
                "token_env": "SEMROUTER_TEST_MILVUS_TOKEN",
                "retry_interval_s": 3,
            },
        }
    )
    cache = MilvusCache.from_config(cfg)
    try:
        assert (cache.uri, cache.collection, cache.timeout_s, cache.retry_interval_s) == (
            lite_file,
            "from_config",
            0.2,
            3,
        )
        assert cache._token == "root:Milvus"
        assert (cache.max_entries, cache.category_quota) == (50, {"math": 7})
    finally:
        cache.close()


@pytest.mark.parametrize("uri", ["/tmp/no-extension", "/tmp/bad name.db", "/tmp/" + "x" * 40 + ".db"])
def test_unusable_lite_file_names_fail_at_construction(uri: str) -> None:
    with pytest.raises(ValueError, match="Milvus Lite"):
        MilvusCache(uri, collection="c")


async def test_server_down_then_back(tmp_path: pathlib.Path) -> None:
    """Killing the server makes calls fail promptly (no pymilvus retry loop, no piled-up threads); after a
    restart on the same port the same backend object works again, with the data the server kept."""
    server = MilvusServer(tmp_path / "down.db").start()
    cache = MilvusCache(server.uri, collection="down", timeout_s=2.0, connect_timeout_s=2.0, retry_interval_s=0.2)
    try:
        await cache.connect()
        v = unit(70)
        await cache.store(v, key("t"), answer("before"), 3600, None, NOW)
        assert await cache.lookup(v, key("t"), 0.9, NOW) is not None

        server.kill()
        with pytest.raises(MilvusUnavailable):
            await asyncio.wait_for(cache.lookup(v, key("t"), 0.9, NOW), HANG_GUARD_S)
        with pytest.raises(MilvusUnavailable):
            await asyncio.wait_for(cache.store(v, key("t"), answer("during"), 3600, None, NOW), HANG_GUARD_S)

        # A burst while it is down: every call fails (fast or rejected), none hangs, nothing stays pending.
        burst = [asyncio.wait_for(cache.lookup(v, key("t"), 0.9, NOW), HANG_GUARD_S) for _ in range(40)]
        results = await asyncio.gather(*burst, return_exceptions=True)
        assert all(isinstance(r, MilvusUnavailable) for r in results), results
        await _wait(lambda: cache.stats()["pending_calls"] == 0)
        down = cache.stats()
        assert down["connected"] is False and down["errors"] >= 1 and down["last_error"]

        server.start()
        hit = None
        deadline = time.monotonic() + HANG_GUARD_S
        while hit is None:
            with contextlib.suppress(MilvusUnavailable):
                hit = await cache.lookup(v, key("t"), 0.9, NOW)
            if hit is None:
                assert time.monotonic() < deadline, cache.stats()
                await asyncio.sleep(0.1)
        assert hit.answer.content == "before"
        assert cache.stats()["connected"] is True
        await cache.store(unit(71), key("t", "after"), answer("after"), 3600, None, NOW)
        assert await cache.lookup(unit(71), key("t", "after"), 0.9, NOW) is not None
    finally:
        cache.close()
        server.kill()


async def test_unreachable_server_from_the_start(tmp_path: pathlib.Path) -> None:
    cache = MilvusCache(f"http://127.0.0.1:{free_port()}", collection="c", connect_timeout_s=0.5)
    try:
        with pytest.raises(MilvusUnavailable, match="connect"):
            await asyncio.wait_for(cache.connect(), HANG_GUARD_S)
        assert cache.ready and cache.stats()["starting"] is False
        with pytest.raises(MilvusUnavailable) as failed:  # within retry_interval_s: no other attempt
            await asyncio.wait_for(cache.lookup(unit(1), key("t"), 0.9, NOW), HANG_GUARD_S)
        assert not isinstance(failed.value, MilvusNotReady)  # down, not starting: the stage counts a fault
        assert cache.stats()["reconnects"] == 0
    finally:
        cache.close()


async def test_first_connection_is_opened_in_the_background(tmp_path: pathlib.Path) -> None:
    """A request never pays for opening Milvus Lite (~2 s, far over the 50 ms cache deadline): before the
    first connection is up, lookups and stores raise ``MilvusNotReady`` at once, which the cache service
    turns into a ``not_ready`` bypass: no fault counted, the circuit breaker untouched."""
    backend = MilvusCache(str(tmp_path / "warm.db"), collection="warm", timeout_s=10.0)  # RPC deadline
    service = CacheService(backend)
    cfg = CacheConfig(timeout_s=0.05)
    try:
        # Nobody called start() (as for a backend a config reload built): the first call starts the connect.
        with pytest.raises(BackendUnavailable) as skipped:
            await service.call("lookup", lambda: backend.lookup(unit(1), key("t"), 0.9, NOW), cfg)
        assert skipped.value.reason == "not_ready"
        assert backend.stats()["starting"] is True and backend.stats()["connected"] is False
        with pytest.raises(MilvusNotReady):
            await backend.store(unit(1), key("t"), answer("early"), 3600, None, NOW)
        for _ in range(5):  # more than circuit_breaker.failures calls: it must stay closed
            with pytest.raises(BackendUnavailable, match="not_ready"):
                await service.call("lookup", lambda: backend.lookup(unit(1), key("t"), 0.9, NOW), cfg)
        assert service.faults == {} and service.breaker.state(time.monotonic())["opened"] == 0

        await _wait(lambda: backend.ready)  # the background connect finishes by itself
        st = backend.stats()
        assert (st["connected"], st["starting"], st["reconnects"], st["errors"], st["timeouts"]) == (
            True,
            False,
            1,
            0,
            0,
        )
        cfg = CacheConfig(timeout_s=HANG_GUARD_S)  # now real RPCs: generous for a busy machine
        await service.call("store", lambda: backend.store(unit(2), key("t"), answer("later"), 3600, None, NOW), cfg)
        hit = await service.call("lookup", lambda: backend.lookup(unit(2), key("t"), 0.9, NOW), cfg)
        assert hit is not None and hit.answer.content == "later"
        assert service.faults == {}
    finally:
        backend.close()


async def _wait(check: Callable[[], bool], timeout: float = HANG_GUARD_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


# -- through the proxy ---------------------------------------------------------------------------------


def _chat(router: Any, text: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    return http_json("POST", router.url + "/v1/chat/completions", body, headers)


def _until_hit(router: Any, text: str, headers: dict[str, str] | None = None) -> tuple[dict[str, str], Any]:
    """Repeat a request until the cache answers it: the first store may meet the backend still connecting."""
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        status, h, body = _chat(router, text, headers)
        assert status == 200, body
        if h.get("x-vsr-cache-hit") == "true":
            return h, body
        assert time.monotonic() < deadline, http_json("GET", router.url + "/api/v1/cache/stats")[2]
        time.sleep(0.2)


def test_proxy_hits_from_milvus_and_serves_when_it_dies(
    start_worker: Callable[..., Any], start_router: Callable[..., Any], tmp_path: pathlib.Path
) -> None:
    server = MilvusServer(tmp_path / "proxy.db").start()
    try:
        w = start_worker("m1")
        cache = {
            "enabled": True,
            "backend": "milvus",
            "timeout_s": 2.0,  # generous for busy CI machines; a dead server fails fast anyway
            "milvus": {"uri": server.uri, "collection": "proxy", "connect_timeout_s": 2.0, "retry_interval_s": 0.2},
            "circuit_breaker": {"failures": 3, "backoff_s": 0.2, "max_backoff_s": 0.4},
        }
        r = start_router(simple_config({"m1": [w.url]}, cache=cache))
        q = "What is cognitive dissonance?"
        h, body = _until_hit(r, q, {"x-fake-reply": "A mental conflict."})
        assert body["choices"][0]["message"]["content"] == "A mental conflict."
        assert float(h["x-vsr-cache-similarity"]) == pytest.approx(1.0, abs=1e-3)
        calls = len(w.requests())
        _, h, body = _chat(r, q)
        assert h["x-vsr-cache-hit"] == "true" and len(w.requests()) == calls  # answered without the worker
        st = http_json("GET", r.url + "/api/v1/cache/stats")[2]
        assert st["backend"]["backend"] == "milvus" and st["backend"]["hits"] >= 2

        server.kill()
        for i in range(5):
            status, h, body = _chat(r, q, {"x-fake-reply": f"fresh {i}"})
            assert status == 200 and h.get("x-vsr-cache-hit") != "true"
            assert body["choices"][0]["message"]["content"] == f"fresh {i}"
        assert len(w.requests()) == calls + 5
        assert http_json("GET", r.url + "/api/v1/cache/stats")[2]["stage"]["faults"] >= 1

        server.start()  # same data file: the stored answer is there again once the router reconnects
        h, body = _until_hit(r, q)
        assert body["choices"][0]["message"]["content"] == "A mental conflict."
    finally:
        server.kill()


def test_router_opens_milvus_lite_at_start_up_not_in_a_request(
    start_worker: Callable[..., Any], start_router: Callable[..., Any], tmp_path: pathlib.Path
) -> None:
    """Opening Milvus Lite (~2 s) happens at router start-up: the backend is connected before any request
    came, and no request counts a cache fault. The deadline is 0.5 s rather than the default 50 ms so a
    busy test machine's slow RPC cannot fail it, while a connect inside a request (~2 s) still would."""
    w = start_worker("m1")
    cache = {"enabled": True, "backend": "milvus", "timeout_s": 0.5, "milvus": {"uri": str(tmp_path / "startup.db")}}
    r = start_router(simple_config({"m1": [w.url]}, cache=cache))
    deadline = time.monotonic() + HANG_GUARD_S
    while not (st := http_json("GET", r.url + "/api/v1/cache/stats")[2])["backend"]["connected"]:
        assert time.monotonic() < deadline, st
        time.sleep(0.1)
    assert len(w.requests()) == 0 and st["backend"]["hits"] + st["backend"]["misses"] == 0  # no request yet
    _, body = _until_hit(r, "What is the boiling point of water at sea level?", {"x-fake-reply": "100 degrees C."})
    assert body["choices"][0]["message"]["content"] == "100 degrees C."
    stage = http_json("GET", r.url + "/api/v1/cache/stats")[2]["stage"]
    assert stage["faults"] == 0 and stage["circuit_breaker"]["opened"] == 0, stage


def _ready_when(router: Any) -> dict[str, Any]:
    """Poll ``/ready`` until it says 200; the cache stats read right after it did."""
    deadline = time.monotonic() + HANG_GUARD_S
    while (ready := http_json("GET", router.url + "/ready"))[0] != 200:
        assert ready[2]["starting"] is True, ready  # the only reason it is not ready here
        assert time.monotonic() < deadline, ready
        time.sleep(0.02)
    return http_json("GET", router.url + "/api/v1/cache/stats")[2]  # type: ignore[no-any-return]


def test_ready_only_once_the_cache_is_connected(
    start_worker: Callable[..., Any], start_router: Callable[..., Any], tmp_path: pathlib.Path
) -> None:
    """Envoy and Kubernetes send traffic on ``/ready``: a replica that said ready while Milvus Lite was
    still opening would bypass its cache for the first requests (seen on a slow host: the fleet's first
    answer was never stored)."""
    w = start_worker("m1")
    cache = {"enabled": True, "backend": "milvus", "milvus": {"uri": str(tmp_path / "ready.db")}}
    r = start_router(simple_config({"m1": [w.url]}, cache=cache))
    st = _ready_when(r)
    assert st["backend"]["connected"] is True and st["backend"]["starting"] is False, st


def test_ready_without_the_cache_when_milvus_never_answers(
    start_worker: Callable[..., Any], start_router: Callable[..., Any]
) -> None:
    """A Milvus that accepts TCP but never answers must not keep the router out of service: after the
    first connect gave up, the router is ready and serves requests, bypassing the cache."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        w = start_worker("m1")
        milvus = {"uri": f"http://127.0.0.1:{silent.getsockname()[1]}", "connect_timeout_s": 1.0}
        r = start_router(simple_config({"m1": [w.url]}, cache={"enabled": True, "backend": "milvus", "milvus": milvus}))
        st = _ready_when(r)
        assert st["backend"]["connected"] is False and st["backend"]["starting"] is False, st
        status, h, body = _chat(r, "What is the speed of light?", {"x-fake-reply": "Fast."})
        assert status == 200 and h["x-vsr-cache-hit"] == "false" and body["choices"][0]["message"]["content"] == "Fast."


async def test_an_ivf_index_from_the_config_answers_like_flat(make_cache: Callable[..., MilvusCache]) -> None:
    """``index: ivf_flat`` (what Milvus Lite offers besides FLAT; servers also take ``hnsw``): the collection is
    made with it, lookups still return the cosine itself and respect partitions and the threshold."""
    cfg = CacheConfig.model_validate(
        {"backend": "milvus", "milvus": {"uri": "unused.db", "index": "ivf_flat", "ivf": {"nlist": 4, "nprobe": 4}}}
    )
    probe = MilvusCache.from_config(cfg)
    assert (probe.index, probe.index_params, probe.search_params) == ("ivf_flat", {"nlist": 4}, {"nprobe": 4})
    probe.close()
    cache = make_cache(index="ivf_flat", index_params={"nlist": 4}, search_params={"nprobe": 4})
    await cache.connect()
    v = unit(90)
    for i in range(20):
        await cache.store(unit(900 + i), key("t"), answer(f"filler {i}"), 3600, None, NOW)
    await cache.store(near(v, 0.95, 91), key("t"), answer("mine"), 3600, None, NOW)
    await cache.store(v, key("other"), answer("not mine"), 3600, None, NOW)
    hit = await cache.lookup(v, key("t"), 0.9, NOW)
    assert hit is not None and hit.answer.content == "mine" and hit.similarity == pytest.approx(0.95, abs=1e-3)
    assert await cache.lookup(v, key("t"), 0.97, NOW) is None
    assert cache.stats()["index"] == "IVF_FLAT (COSINE, nlist=4, nprobe=4)"


def test_hnsw_on_a_milvus_lite_file_is_refused_at_construction(lite_file: str) -> None:
    with pytest.raises(ValueError, match="Milvus Lite offers no HNSW"):
        MilvusCache(lite_file, collection="c", index="hnsw")
    cfg = CacheConfig.model_validate(
        {"backend": "milvus", "milvus": {"uri": "http://milvus:19530", "index": "hnsw", "hnsw": {"m": 32}}}
    )
    server = MilvusCache.from_config(cfg)  # a server URI: the parameters go into the index and every search
    try:
        assert (server.index_params, server.search_params) == ({"M": 32, "efConstruction": 200}, {"ef": 200})
    finally:
        server.close()
