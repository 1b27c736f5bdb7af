"""Semantic-cache backends and index options: top-1 cosine lookup and single-entry store latency at 10k / 100k / 1M.

    python bench/cache_backends.py [--sizes 10000,100000,1000000] [--backends LIST] [--libs] [--random]
                                   [--queries 300] [--stores 200] [--mmlu 3000] [--write [--doc PATH]]

``--write`` replaces the ``cache`` section of docs/benchmarks.md (or of ``--doc PATH``, e.g. a scratch copy
for a smoke run); otherwise it only prints. The full run (the defaults) takes about half an hour on the
2-core machine, most of it filling the 1M-row indexes. What is measured
(384-d float32 unit vectors, one partition holding every row — the worst case for both backends):

* ``numpy``: brute force, ``matrix @ vector`` over a preallocated float32 array (exact);
* ``usearch-i8``: usearch HNSW (M=16, ef 64/64), int8 graph — the index ``MemoryCache`` builds;
* ``MemoryCache``: the shipped memory backend end to end (``lookup_sync``/``store_sync``: partition, LRU,
  TTL, exact re-scoring), filled one store at a time as a running router would;
* ``milvus-lite``: the shipped ``MilvusCache`` on an embedded Milvus Lite file (FLAT index, COSINE), through
  its async API (thread hop included); filled with ``bulk_load`` (1,000-row inserts);
* ``milvus-server``: the same against the Milvus Lite binary serving TCP on loopback (a subprocess), up to
  ``--server-max`` rows (default: every size). Each Milvus collection is dropped after its row, so the
  embedded and server processes never hold more than one size;
* ``redis``: the shipped ``RedisCache`` (HNSW M=16, ef_construction 200, ef_runtime 200, COSINE) against
  valkey 8.1 + the RediSearch module (``semrouter.cache.redis.local_server_argv``) on loopback, through its
  async API (one ``FT.SEARCH`` hybrid query per lookup, one ``MULTI``/``HSET``/``PEXPIRE`` per store);
  filled with ``bulk_load`` (pipelines of 1,000), the index dropped after each size;
* ``--libs`` adds ``usearch-f32``, ``faiss-hnsw`` and ``hnswlib`` (the comparison that chose usearch).

Data: "clustered" (default) — unit vectors around ``n/500`` random topic centres (cosine ~0.7 to their
centre, ~0.5 between rows of one topic); ``--random`` adds uniformly random unit vectors (no structure: the
hard case for a graph). Queries are near-duplicates of stored rows at cosine 0.95 (what a cache hit looks
like); "recall" is the share whose top-1 is that row (for Milvus, whose ids are random: whose similarity
equals that row's). The "mmlu" rows (libraries only, ≤100k) index real MiniLM embeddings of ~3,000 MMLU
questions among random fillers and query other MMLU questions; recall there is agreement with numpy.
Store latency: one new entry into the built index. Builds use 2 threads, lookups 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import common  # noqa: E402
from common import free_port, machine, write_section  # noqa: E402

from semrouter.cache import CachedAnswer  # noqa: E402
from semrouter.cache.memory import GRAPH_PARAMS, MemoryCache  # noqa: E402

DIM = 384
Mat = npt.NDArray[np.float32]
MMLU = Path(__file__).resolve().parents[2] / "shared" / "data" / "domain" / "mmlu_train.jsonl"  # ../shared
ANSWER = CachedAnswer(content="cached answer", model="m", created=0.0, prompt="q")
DEFAULT_BACKENDS = "numpy,usearch-i8,MemoryCache,milvus-lite,milvus-server,redis"


def unit_rows(n: int, seed: int) -> Mat:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for i in range(0, n, 100_000):  # chunks keep the float64 temporaries small
        block = rng.standard_normal((min(100_000, n - i), DIM), dtype=np.float32)
        out[i : i + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def clustered_rows(n: int, seed: int) -> Mat:
    """Rows around ``max(8, n // 500)`` topic centres: cosine ~0.7 to the centre, ~0.5 within a topic."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(max(8, n // 500), seed + 1)
    out = np.empty((n, DIM), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        block = centres[rng.integers(0, len(centres), m)] + 0.052 * rng.standard_normal((m, DIM), dtype=np.float32)
        out[i : i + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def near_queries(x: Mat, picks: npt.NDArray[np.int64], cosine: float, seed: int) -> Mat:
    base = x[picks]
    noise = unit_rows(len(picks), seed)
    noise -= np.sum(noise * base, axis=1, keepdims=True) * base
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = cosine * base + np.sqrt(1 - cosine**2) * noise
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Row:
    option: str
    data: str
    n: int
    build_s: float
    p50: float
    p99: float
    store_p50: float
    store_p99: float
    recall: float
    queries: int = 0


def pct(ts: list[float]) -> tuple[float, float]:
    a = np.array(ts) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


class Option:
    """One index library behind build / search(top-1 id) / add(one)."""

    name = ""

    def build(self, x: Mat) -> None:
        raise NotImplementedError

    def search(self, q: Mat) -> int:
        raise NotImplementedError

    def add(self, key: int, v: Mat) -> None:
        raise NotImplementedError


class NumpyFlat(Option):
    name = "numpy"

    def build(self, x: Mat) -> None:
        self.m = np.zeros((len(x) + 1024, DIM), dtype=np.float32)  # preallocated, as the backend does
        self.m[: len(x)] = x
        self.n = len(x)

    def search(self, q: Mat) -> int:
        return int(np.argmax(self.m[: self.n] @ q))

    def add(self, key: int, v: Mat) -> None:
        self.m[self.n] = v
        self.n += 1


class Usearch(Option):
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.name = f"usearch-{dtype}"

    def build(self, x: Mat) -> None:
        from usearch.index import Index

        # the shipped graph, or the same graph in float32 (inner product on unit vectors)
        params = GRAPH_PARAMS if self.dtype == "i8" else {**GRAPH_PARAMS, "metric": "ip", "dtype": self.dtype}
        self.ix = Index(ndim=DIM, **params)
        self.ix.add(np.arange(len(x)), x, threads=2)

    def search(self, q: Mat) -> int:
        return int(self.ix.search(q, 1).keys[0])

    def add(self, key: int, v: Mat) -> None:
        self.ix.add(key, v)


class FaissHnsw(Option):
    name = "faiss-hnsw"

    def build(self, x: Mat) -> None:
        import faiss

        faiss.omp_set_num_threads(2)
        self.ix = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        self.ix.hnsw.efConstruction = 64
        self.ix.add(x)
        self.ix.hnsw.efSearch = 64
        faiss.omp_set_num_threads(1)

    def search(self, q: Mat) -> int:
        return int(self.ix.search(q[None], 1)[1][0, 0])

    def add(self, key: int, v: Mat) -> None:
        self.ix.add(v[None])


class Hnswlib(Option):
    name = "hnswlib"

    def build(self, x: Mat) -> None:
        import hnswlib

        self.ix = hnswlib.Index(space="ip", dim=DIM)
        self.ix.init_index(max_elements=len(x) + 1024, M=16, ef_construction=64, allow_replace_deleted=True)
        self.ix.set_num_threads(2)
        self.ix.add_items(x, np.arange(len(x)))
        self.ix.set_num_threads(1)
        self.ix.set_ef(64)

    def search(self, q: Mat) -> int:
        return int(self.ix.knn_query(q, 1)[0][0, 0])

    def add(self, key: int, v: Mat) -> None:
        self.ix.add_items(v[None], np.array([key]))


LIBRARIES: dict[str, Callable[[], Option]] = {
    "numpy": NumpyFlat,
    "usearch-i8": lambda: Usearch("i8"),
    "usearch-f32": lambda: Usearch("f32"),
    "faiss-hnsw": FaissHnsw,
    "hnswlib": Hnswlib,
}


def measure(opt: Option, data: str, x: Mat, queries: Mat, truth: npt.NDArray[np.int64], extra: Mat) -> Row:
    t0 = time.perf_counter()
    opt.build(x)
    build_s = time.perf_counter() - t0
    for q in queries[:20]:  # warm caches
        opt.search(q)
    ts: list[float] = []
    found = []
    for q in queries:
        t = time.perf_counter()
        found.append(opt.search(q))
        ts.append(time.perf_counter() - t)
    recall = float(np.mean(np.array(found) == truth))
    st: list[float] = []
    for i, v in enumerate(extra):
        t = time.perf_counter()
        opt.add(len(x) + i, v)
        st.append(time.perf_counter() - t)
    p50, p99 = pct(ts)
    s50, s99 = pct(st)
    return Row(opt.name, data, len(x), build_s, p50, p99, s50, s99, recall, len(queries))


def measure_memory(data: str, x: Mat, queries: Mat, truth: npt.NDArray[np.int64], extra: Mat) -> Row:
    """The shipped memory backend: one partition holding every row, filled one store at a time."""
    cache = MemoryCache(max_entries=len(x) + len(extra) + 1)
    t0 = time.perf_counter()
    for v in x:
        cache.store_sync(v, "p", ANSWER, 3600.0, None, 0.0)
    cache.wait_for_graphs()
    build_s = time.perf_counter() - t0
    ts: list[float] = []
    found = []
    for q in queries:
        t = time.perf_counter()
        hit = cache.lookup_sync(q, "p", 0.01, 1.0)
        ts.append(time.perf_counter() - t)
        found.append(hit.entry_id - 1 if hit else -1)  # entry ids start at 1 in store order
    st: list[float] = []
    for v in extra:
        t = time.perf_counter()
        cache.store_sync(v, "p", ANSWER, 3600.0, None, 1.0)
        st.append(time.perf_counter() - t)
    p50, p99 = pct(ts)
    s50, s99 = pct(st)
    recall = float(np.mean(np.array(found) == truth))
    return Row("MemoryCache", data, len(x), build_s, p50, p99, s50, s99, recall, len(queries))


@contextlib.contextmanager
def milvus_server(data_dir: str) -> Iterator[str]:
    """The Milvus Lite C++ binary serving gRPC on a loopback port (as the integration tests run it)."""
    from milvus_lite.server import Server

    port = free_port()
    srv = Server(os.path.join(data_dir, "server.db"), f"127.0.0.1:{port}")
    env = {**os.environ, "LD_LIBRARY_PATH": str(pathlib.Path(srv.milvus_bin).parent)}
    proc = subprocess.Popen(
        [str(a) for a in srv.args],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("milvus server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def timed_lookups(
    loop: asyncio.AbstractEventLoop, cache: Any, queries: Mat, expected: npt.NDArray[np.float32], warm: int
) -> tuple[list[float], int]:
    """Lookups one at a time through a backend's async API after ``warm`` untimed ones (they open the
    connection): the latencies, and how many found the row the query was made from (a hit as similar as
    ``expected``: the backends' ids differ, the similarity does not)."""
    for q in queries[:warm]:
        loop.run_until_complete(cache.lookup(q, "p", 0.01, 1.0))
    ts: list[float] = []
    found = 0
    for q, want in zip(queries, expected, strict=True):
        t = time.perf_counter()
        hit = loop.run_until_complete(cache.lookup(q, "p", 0.01, 1.0))
        ts.append(time.perf_counter() - t)
        found += hit is not None and hit.similarity >= float(want) - 1e-4
    return ts, found


def measure_milvus(
    name: str, uri: str, data: str, x: Mat, queries: Mat, picks: npt.NDArray[np.int64], extra: Mat
) -> Row:
    """``MilvusCache`` end to end through its async API (what the cache stage awaits)."""
    from semrouter.cache.milvus import MilvusCache

    loop = asyncio.new_event_loop()
    cache = MilvusCache(uri, collection=f"bench_{len(x)}", timeout_s=120.0, admin_timeout_s=600.0)
    try:
        t0 = time.perf_counter()
        loop.run_until_complete(cache.connect())
        loop.run_until_complete(cache.bulk_load(x, "p", ANSWER, 1e9, 0.0))
        build_s = time.perf_counter() - t0
        expected = np.sum(queries * x[picks], axis=1)  # similarity of the row each query was made from
        ts, found = timed_lookups(loop, cache, queries, expected, warm=5)
        st: list[float] = []
        for v in extra:
            t = time.perf_counter()
            loop.run_until_complete(cache.store(v, "p", ANSWER, 3600.0, None, 1.0))
            st.append(time.perf_counter() - t)
        loop.run_until_complete(cache.drop_collection())  # frees the rows' memory before the next size
    finally:
        cache.close()
        loop.close()
    p50, p99 = pct(ts)
    s50, s99 = pct(st)
    return Row(name, data, len(x), build_s, p50, p99, s50, s99, found / len(queries), len(queries))


@contextlib.contextmanager
def redis_server(data_dir: str) -> Iterator[str]:
    """valkey + RediSearch on a loopback port (as the integration tests and ``semrouter fleet`` run it)."""
    from semrouter.cache.redis import local_server_argv

    port = free_port()
    argv = local_server_argv(port, Path(data_dir))
    proc = subprocess.Popen(
        argv, cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure_redis(url: str, data: str, x: Mat, queries: Mat, picks: npt.NDArray[np.int64], extra: Mat) -> Row:
    """``RedisCache`` end to end through its async API; recall as for Milvus (ids are random): a hit whose
    similarity equals that of the row the query was made from."""
    from semrouter.cache.redis import RedisCache

    loop = asyncio.new_event_loop()
    cache = RedisCache(
        url, index=f"bench_{len(x)}_{data}", timeout_s=120.0, admin_timeout_s=600.0, connect_timeout_s=30.0
    )
    try:
        t0 = time.perf_counter()
        loop.run_until_complete(cache.connect())
        loop.run_until_complete(cache.bulk_load(x, "p", ANSWER, 1e9, 0.0))
        build_s = time.perf_counter() - t0
        expected = np.sum(queries * x[picks], axis=1)
        ts, found = timed_lookups(loop, cache, queries, expected, warm=20)
        st: list[float] = []
        for v in extra:
            t = time.perf_counter()
            loop.run_until_complete(cache.store(v, "p", ANSWER, 3600.0, None, 1.0))
            st.append(time.perf_counter() - t)
        loop.run_until_complete(cache.drop_index())  # frees the rows' memory before the next size
    finally:
        loop.run_until_complete(cache.aclose())
        loop.close()
    p50, p99 = pct(ts)
    s50, s99 = pct(st)
    return Row("redis", data, len(x), build_s, p50, p99, s50, s99, found / len(queries), len(queries))


def grow_redis(url: str, sizes: list[int], args: argparse.Namespace, report: Callable[[Row], None]) -> list[str]:
    """``--grow``: one ``RedisCache`` index filled once up to the largest size, measured at every size on the
    way (the rows are the first ``n`` of the largest set), so 10k/100k/1M cost one 1M fill. Filling stops
    at ``--time-limit`` seconds: the index is then measured at the size it reached, and the sizes not
    reached are returned (reported as not measured, with the fill rate for an extrapolation). ``fill`` is
    the time to add the rows since the previous size."""
    from semrouter.cache.redis import RedisCache

    top = max(sizes)
    x = clustered_rows(top, seed=top)
    extra = unit_rows(args.stores, seed=3)
    loop = asyncio.new_event_loop()
    efs = [int(e) for e in args.ef_runtime.split(",") if e]
    probes = [
        (
            ef,
            RedisCache(
                url, index=f"grow_{top}", timeout_s=120.0, admin_timeout_s=600.0, connect_timeout_s=30.0, ef_runtime=ef
            ),
        )
        for ef in efs
    ]  # one client per EF_RUNTIME over the same index: the value is per query, so one fill serves every probe
    cache = probes[0][1]
    started = time.perf_counter()
    done = 0
    missed: list[str] = []
    try:
        for _, probe in probes:
            loop.run_until_complete(probe.connect())
        for target in sorted(sizes):
            n = target
            t0 = time.perf_counter()
            while done < n:
                if time.perf_counter() - started > args.time_limit:
                    break
                step = min(10_000, n - done)
                loop.run_until_complete(cache.bulk_load(x[done : done + step], "p", ANSWER, 1e9, 0.0))
                done += step
            fill_s = time.perf_counter() - t0
            if done < target:
                rate = done / (time.perf_counter() - started)
                missed.append(
                    f"redis at {target:,} (--grow: {done:,} rows in --time-limit {args.time_limit:.0f} s, {rate:.0f}/s)"
                )
                print(f"  redis: stopped filling at {done:,} rows ({rate:.0f} rows/s)", flush=True)
                n = done  # measured once more, where the fill got to
            picks = np.random.default_rng(1).choice(n, args.queries, replace=False)
            queries = near_queries(x[:n], picks, 0.95, seed=7)
            expected = np.sum(queries * x[picks], axis=1)
            st: list[float] = []
            for ef, probe in probes:
                ts, found = timed_lookups(loop, probe, queries, expected, warm=20)
                if not st:
                    for v in extra:  # stored under another partition, so later lookups never find them
                        t = time.perf_counter()
                        loop.run_until_complete(cache.store(v, "extra", ANSWER, 3600.0, None, 1.0))
                        st.append(time.perf_counter() - t)
                p50, p99 = pct(ts)
                s50, s99 = pct(st)
                name = "redis" if len(probes) == 1 else f"redis ef{ef}"
                report(Row(name, "clustered", n, fill_s, p50, p99, s50, s99, found / len(queries), len(queries)))
            if n < target:
                break
        loop.run_until_complete(cache.drop_index())
    finally:
        for _, probe in probes:
            loop.run_until_complete(probe.aclose())
        loop.close()
    return missed


def mmlu_embeddings(limit: int) -> Mat:
    from semrouter.embed.service import EmbeddingService

    texts = list(dict.fromkeys(json.loads(line)["text"] for line in MMLU.open()))[:limit]
    svc = EmbeddingService()
    try:
        return svc.embed_many(texts)
    finally:
        svc.close()


def table(rows: list[Row]) -> str:
    out = [
        "| option | data | entries | fill | lookup p50 | lookup p99 | store p50 | store p99 | recall@1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.option} | {r.data} | {r.n:,} | {r.build_s:.1f} s | {r.p50:.3f} ms | {r.p99:.3f} ms "
            f"| {r.store_p50:.3f} ms | {r.store_p99:.3f} ms | {r.recall:.3f} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"comma list (default {DEFAULT_BACKENDS})")
    ap.add_argument("--libs", action="store_true", help="also usearch-f32, faiss-hnsw, hnswlib (≤100k unless --full)")
    ap.add_argument("--full", action="store_true", help="--libs options at 1M too (slow)")
    ap.add_argument("--random", action="store_true", help="also uniformly random vectors")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--milvus-queries-1m", type=int, default=100, help="Milvus lookups at ≥1M rows (each scans)")
    ap.add_argument("--stores", type=int, default=200)
    ap.add_argument("--server-max", type=int, default=1_000_000, help="largest size run against milvus-server")
    ap.add_argument("--mmlu", type=int, default=3000, help="real embeddings for the mmlu rows (0: skip)")
    ap.add_argument("--grow", action="store_true", help="redis: fill one index once, measure at every size")
    ap.add_argument(
        "--ef-runtime", default="200", help="--grow: comma list of EF_RUNTIME values, each measured on the same index"
    )
    ap.add_argument("--time-limit", type=float, default=1e9, help="--grow: stop filling after this many seconds")
    ap.add_argument("--write", action="store_true", help="write the cache section of docs/benchmarks.md")
    ap.add_argument("--doc", type=Path, help="with --write: the Markdown file to write into instead")
    args = ap.parse_args()
    if args.doc is not None:
        common.DOC = args.doc  # write_section reads it at call time
    backends = [b for b in args.backends.split(",") if b]
    if args.libs:
        backends += [b for b in ("usearch-f32", "faiss-hnsw", "hnswlib") if b not in backends]
    rows: list[Row] = []
    skipped: list[str] = []
    started = time.perf_counter()

    def report(row: Row) -> None:
        rows.append(row)
        print(
            f"  {row.option:13s} {row.data:9s} n={row.n:>8,} fill {row.build_s:7.1f}s  lookup p50 {row.p50:.3f} "
            f"p99 {row.p99:.3f} ms  store p50 {row.store_p50:.3f} p99 {row.store_p99:.3f} ms  "
            f"recall {row.recall:.3f}  [{time.perf_counter() - started:.0f}s]",
            flush=True,
        )

    real = mmlu_embeddings(args.mmlu) if args.mmlu else None
    datasets = ["clustered", *(["random"] if args.random else [])]
    with tempfile.TemporaryDirectory(prefix="semrouter-bench-milvus-") as tmp:
        server_uri = None
        server: contextlib.AbstractContextManager[str] | None = None
        if "milvus-server" in backends:
            server = milvus_server(tmp)
            server_uri = server.__enter__()
        redis: contextlib.AbstractContextManager[str] | None = None
        redis_url = None
        if "redis" in backends:
            redis = redis_server(tmp)
            redis_url = redis.__enter__()
        try:
            if args.grow:
                assert redis_url is not None, "--grow needs --backends redis"
                skipped += grow_redis(redis_url, [int(s) for s in args.sizes.split(",")], args, report)
                backends = [b for b in backends if b != "redis"]
            for n in (int(s) for s in args.sizes.split(",") if backends):
                picks = np.random.default_rng(1).choice(n, args.queries, replace=False)
                extra = unit_rows(args.stores, seed=3)
                for data in datasets:
                    x = clustered_rows(n, seed=n) if data == "clustered" else unit_rows(n, seed=n)
                    queries = near_queries(x, picks, 0.95, seed=7)
                    for b in backends:
                        if b in LIBRARIES:
                            if b not in ("numpy", "usearch-i8") and n >= 1_000_000 and not args.full:
                                continue
                            report(measure(LIBRARIES[b](), data, x, queries, picks, extra))
                        elif b == "MemoryCache":
                            report(measure_memory(data, x, queries, picks, extra))
                        elif b in ("milvus-lite", "milvus-server"):
                            if b == "milvus-server" and n > args.server_max:
                                skipped.append(f"{b} at {n:,} (--server-max {args.server_max:,})")
                                continue
                            uri = os.path.join(tmp, f"lite{n}{data}.db") if b == "milvus-lite" else server_uri
                            assert uri is not None
                            nq = args.milvus_queries_1m if n >= 1_000_000 else args.queries
                            report(measure_milvus(b, uri, data, x, queries[:nq], picks[:nq], extra[:100]))
                        elif b == "redis":
                            assert redis_url is not None
                            report(measure_redis(redis_url, data, x, queries, picks, extra))
                        else:
                            raise SystemExit(f"unknown backend {b}")
                    del x
                if real is not None and n <= 100_000:
                    x = unit_rows(n, seed=n)
                    half = min(len(real) // 2, n)  # first half indexed among random fillers, second half queries
                    x[:half] = real[:half]
                    qm = real[half : half + args.queries]
                    truth = np.argmax(qm @ x.T, axis=1)
                    for b in backends:
                        if b in LIBRARIES:
                            report(measure(LIBRARIES[b](), "mmlu", x, qm, truth, extra))
                    del x
        finally:
            if server is not None:
                server.__exit__(None, None, None)
            if redis is not None:
                redis.__exit__(None, None, None)
    total = time.perf_counter() - started
    print(f"\nTotal {total:.0f} s\n")
    print(table(rows))
    if skipped:
        print("\nNot measured: " + "; ".join(skipped))
    if args.write:
        write_doc(rows, skipped, total, sys.argv[1:])


def write_doc(rows: list[Row], skipped: list[str], total: float, argv: list[str]) -> None:
    lines = [
        "## Semantic-cache backends (issue 5)",
        "",
        f"Machine: {machine()}, shared with other jobs while this ran (compare rows, not absolutes). "
        f"Command: `python bench/cache_backends.py {' '.join(argv)}` ({total / 60:.0f} min). One partition holds "
        "every row (the worst case for both backends); queries are near-duplicates (cosine 0.95) of stored rows; "
        "lookups one at a time on 1 thread. `fill` is how long it took to put the rows in (MemoryCache: one "
        "`store` at a time, HNSW graphs built in the background and waited for; Milvus: `bulk_load`, 1,000-row "
        "inserts). Milvus rows go through `MilvusCache`'s async API (pool thread hop included); Milvus Lite only "
        "offers FLAT/IVF_FLAT/AUTOINDEX and the backend uses FLAT (exact), so a lookup scans the partition.",
        "",
        table(rows),
    ]
    at_1m = [r for r in rows if r.option == "MemoryCache" and r.n >= 1_000_000]
    if at_1m:
        worst = max(r.p50 for r in at_1m)
        verdict = "met" if worst <= 1.0 else "**not met**"
        lines += ["", f"Target: MemoryCache lookup p50 ≤ 1 ms at 1M entries: {verdict} ({worst:.3f} ms)."]
    if skipped:
        lines += ["", "Not measured: " + "; ".join(skipped) + "."]
    write_section("cache", "\n".join(lines))


if __name__ == "__main__":
    main()
