"""Semantic-cache index options: top-1 cosine lookup and single-entry store latency at 10k / 100k / 1M.

    python bench/cache_backends.py [--sizes 10000,100000,1000000] [--full] [--queries 300]

Prints a markdown table (it does not edit docs/benchmarks.md). Options measured, 384-d float32 unit vectors:

* ``numpy``: brute force, ``matrix @ vector`` over a preallocated float32 array (exact);
* ``usearch-i8`` / ``usearch-f32``: usearch HNSW (M=16, ef 64/64), int8 or float32 graph;
* ``faiss-hnsw``: faiss ``IndexHNSWFlat`` (M=16, efConstruction 64, efSearch 64), inner product;
* ``hnswlib``: hnswlib HNSW (M=16, ef 64/64), inner product;
* ``MemoryCache``: the shipped backend end to end (``lookup_sync``/``store_sync``: partition, LRU, TTL,
  exact re-scoring), up to 100k entries (filling it one store at a time takes too long at 1M).

Data: random unit vectors (the hard case for a graph: no cluster structure). Queries are near-duplicates
of stored rows at cosine ~0.95 (what a cache hit looks like); "recall" is the share whose top-1 is that
row. The "mmlu" rows index real MiniLM embeddings of ~3,000 MMLU questions among random fillers and query
other MMLU questions' embeddings; recall there is agreement with the exact (numpy) top-1.
Store latency: one ``add`` of a single new vector into the built index (what a cache store does).
Builds use 2 threads; lookups 1 thread. 1M rows: numpy and usearch-i8 only unless ``--full`` (each
graph build takes minutes on 2 cores; the whole default run stays under ~10 minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from semrouter.cache import CachedAnswer  # noqa: E402
from semrouter.cache.memory import MemoryCache  # noqa: E402

DIM = 384
Mat = npt.NDArray[np.float32]
MMLU = Path("/work/shared/data/domain/mmlu_train.jsonl")


def unit_rows(n: int, seed: int) -> Mat:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for i in range(0, n, 100_000):  # chunks keep the float64 temporaries small
        block = rng.standard_normal((min(100_000, n - i), DIM), dtype=np.float32)
        out[i : i + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
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

        metric = "cos" if self.dtype == "i8" else "ip"
        self.ix = Index(
            ndim=DIM, metric=metric, dtype=self.dtype, connectivity=16, expansion_add=64, expansion_search=64
        )
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
    return Row(opt.name, data, len(x), build_s, p50, p99, s50, s99, recall)


def measure_backend(data: str, x: Mat, queries: Mat, truth: npt.NDArray[np.int64], extra: Mat) -> Row:
    """The shipped backend: one partition holding every row, filled one store at a time."""
    cache = MemoryCache(max_entries=len(x) + len(extra) + 1)
    ans = CachedAnswer(content="x", model="m", created=0.0)
    t0 = time.perf_counter()
    for v in x:
        cache.store_sync(v, "p", ans, 3600.0, None, 0.0)
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
        cache.store_sync(v, "p", ans, 3600.0, None, 1.0)
        st.append(time.perf_counter() - t)
    p50, p99 = pct(ts)
    s50, s99 = pct(st)
    recall = float(np.mean(np.array(found) == truth))
    return Row("MemoryCache", data, len(x), build_s, p50, p99, s50, s99, recall)


def mmlu_embeddings(limit: int) -> Mat:
    from semrouter.embed.service import EmbeddingService

    texts = list(dict.fromkeys(json.loads(line)["text"] for line in MMLU.open()))[:limit]
    svc = EmbeddingService()
    try:
        return svc.embed_many(texts)
    finally:
        svc.close()


def options(full: bool, n: int) -> list[Callable[[], Option]]:
    opts: list[Callable[[], Option]] = [NumpyFlat, lambda: Usearch("i8")]
    if n < 1_000_000 or full:
        opts += [lambda: Usearch("f32"), FaissHnsw, Hnswlib]
    return opts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--stores", type=int, default=200)
    ap.add_argument("--full", action="store_true", help="every option at 1M too (slow)")
    ap.add_argument("--mmlu", type=int, default=3000, help="real embeddings for the mmlu rows (0: skip)")
    args = ap.parse_args()
    rows: list[Row] = []
    started = time.perf_counter()

    def report(row: Row) -> None:
        rows.append(row)
        print(
            f"  {row.option:12s} {row.data:6s} n={row.n:>8,} build {row.build_s:7.1f}s  lookup p50 {row.p50:.3f} "
            f"p99 {row.p99:.3f} ms  store p50 {row.store_p50:.3f} ms  recall {row.recall:.3f}",
            flush=True,
        )

    real = mmlu_embeddings(args.mmlu) if args.mmlu else None
    for n in (int(s) for s in args.sizes.split(",")):
        x = unit_rows(n, seed=n)
        picks = np.random.default_rng(1).choice(n, args.queries, replace=False)
        queries = near_queries(x, picks, 0.95, seed=7)
        extra = unit_rows(args.stores, seed=3)
        for make in options(args.full, n):
            report(measure(make(), "random", x, queries, picks, extra))
        if n <= 100_000:
            report(measure_backend("random", x, queries, picks, extra))
        if real is not None and n <= 100_000:
            half = len(real) // 2  # first half indexed among random fillers, second half are the queries
            xm = x.copy()
            xm[:half] = real[:half]
            qm = real[half : half + args.queries]
            truth = np.argmax(qm @ xm.T, axis=1)
            for make in options(args.full, n):
                report(measure(make(), "mmlu", xm, qm, truth, extra))
        del x
    print(f"\nTotal {time.perf_counter() - started:.0f} s\n")
    print(table(rows))


def table(rows: list[Row]) -> str:
    out = [
        "| option | data | entries | build (2 threads) | lookup p50 | lookup p99 | store p50 | store p99 | recall@1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.option} | {r.data} | {r.n:,} | {r.build_s:.1f} s | {r.p50:.3f} ms | {r.p99:.3f} ms "
            f"| {r.store_p50:.3f} ms | {r.store_p99:.3f} ms | {r.recall:.3f} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    main()
