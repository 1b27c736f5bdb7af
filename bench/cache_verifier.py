"""What each cache verifier costs per candidate, in-process, on the out-of-source pairs (issue 17).

    python bench/cache_verifier.py [--data tests/data/oos/cache_pairs.jsonl] [--rounds 3]

Every variant of the set is checked against its stored original (502 pairs, 23 word pieces per pair at the
median), as the cache stage does for a candidate: ``score(query, normalize(stored), cosine)``. The verifiers,
interleaved per pair so a noisy neighbour hits all of them alike:

* ``guard``: the lexical guard alone (``semrouter.cache.match.compatible``), the rule before any verifier;
* ``lexical``: the 22-feature MLP (``cache.verifier.model: lexical``), guard included;
* ``pair``: the three-layer cross-encoder (``model: pair``, the default), on one ORT thread as served, with
  its exact-content shortcut (an exact repeat costs no model pass);
* ``pair without folding``: the same without :func:`semrouter.cache.verify.fold_typos` (slips spelt as the
  other side spells them; a folded pair with the same content needs no model pass);
* ``pair 2 threads``: the same on two threads (the served setting until 2026-12-07).

Memos are cleared before every round, so the lexical features are computed, not looked up. Prints p50 / p90 /
p99 in milliseconds and the host's CPU flags; the figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from semrouter.cache.match import compatible, normalize
from semrouter.cache.verify import CE_ASSET, PairModel, Verifier, _analyse

ROOT = Path(__file__).resolve().parent.parent


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = next(line for line in text.splitlines() if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    keep = [f for f in flags if f.startswith(("avx", "amx")) or f in ("fma", "f16c")]
    return " ".join(sorted(keep)) or "no AVX"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "tests" / "data" / "oos" / "cache_pairs.jsonl"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(v, normalize(r["original"])) for r in rows for v in r["variants"]]
    lexical = Verifier.default()
    pair2 = PairModel(CE_ASSET, threads=2)
    pair1 = PairModel(CE_ASSET, threads=1)
    unfolded = PairModel(CE_ASSET, threads=1, fold=False)
    cases: dict[str, Callable[[str, str], object]] = {
        "guard": lambda q, s: compatible(q, s),
        "lexical": lambda q, s: lexical.score(q, s, 0.9),
        "pair": lambda q, s: pair1.score(q, s, 0.9),
        "pair without folding": lambda q, s: unfolded.score(q, s, 0.9),
        "pair 2 threads": lambda q, s: pair2.score(q, s, 0.9),
    }
    for fn in cases.values():  # warm-up: sessions, allocators
        for q, s in pairs[:20]:
            fn(q, s)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for q, s in pairs:
            for name, fn in cases.items():
                _analyse.cache_clear()
                t0 = time.perf_counter()
                fn(q, s)
                times[name].append((time.perf_counter() - t0) * 1e3)
    print(f"CPU flags: {cpu_flags()}; {len(pairs)} pairs x {args.rounds} rounds")
    print("| verifier | p50 | p90 | p99 |\n|---|---|---|---|")
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=100)
        print(f"| {name} | {statistics.median(ts):.3f} ms | {q[89]:.3f} ms | {q[98]:.3f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
