"""Why the memory cache's HNSW graph uses expansion 128/128 (issue 5): recall vs lookup time.

Builds the shipped graph (``GRAPH_PARAMS``: usearch int8, cosine, M=16) over ``--n`` clustered rows with each
build-time expansion, then searches near-duplicate queries (cosine 0.95 to a stored row) with each
search-time expansion, in the same process and sitting, so the rows compare with each other. "recall"
is the share of queries whose top-4 candidates (what MemoryCache re-scores exactly) hold the stored row.

    python bench/hnsw_expansion.py [--n 1000000] [--queries 300]

Prints a Markdown table; about 15 minutes at 1M rows on two cores (the two graph builds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from cache_backends import DIM, clustered_rows, near_queries
from common import machine

from semrouter.cache.memory import GRAPH_PARAMS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    from usearch.index import Index

    x = clustered_rows(args.n, seed=args.n)
    picks = np.random.default_rng(7).integers(0, args.n, args.queries)
    queries = near_queries(x, picks, 0.95, 11)
    print(f"Machine: {machine()}. Command: `python bench/hnsw_expansion.py --n {args.n} --queries {args.queries}`\n")
    print("| build expansion | build | search expansion | lookup p50 | lookup p99 | recall (top-4) |")
    print("|---|---|---|---|---|---|")
    for add in (64, 128):
        ix = Index(ndim=DIM, **{**GRAPH_PARAMS, "expansion_add": add})
        t0 = time.perf_counter()
        ix.add(np.arange(args.n), x, threads=2)
        build = time.perf_counter() - t0
        for ef in (64, 128, 256):
            ix.expansion_search = ef
            times, found = [], []
            for q, truth in zip(queries, picks, strict=True):
                t = time.perf_counter()
                keys = ix.search(q, 4, threads=1).keys
                times.append((time.perf_counter() - t) * 1000)
                found.append(int(truth) in {int(k) for k in keys})
            p99 = float(np.percentile(times, 99))
            print(
                f"| {add} | {build:.0f} s | {ef} | {statistics.median(times):.3f} ms | {p99:.3f} ms "
                f"| {np.mean(found):.3f} |",
                flush=True,
            )
        del ix


if __name__ == "__main__":
    main()
