"""Pair-level numbers for the cache verifier on the out-of-source set, before vs after, and its sweep plot.

    python scripts/cache_oos_report.py [--data tests/data/oos/cache_pairs.jsonl] \
        [--png docs/img/cache_verifier_sweep.png]

"Before" is the hit rule the cache had until issue 17 (cosine >= 0.80 and the lexical guard); "after" is the
stage's rule with the configured verifier (``cache.verifier.model``) on (cosine >=
``cache.verifier.min_similarity``, then the verifier's score >=
its threshold). Pair by pair, each variant against its own original, partitions aside: routing's effect is
what ``semrouter eval cache`` measures on top. Prints a JSON summary (overall, per family, per source) and
draws the verifier's threshold sweep. Read-only on the data; trains and tunes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from semrouter.cache.config import VerifierSettings  # noqa: E402
from semrouter.cache.match import compatible, normalize  # noqa: E402
from semrouter.cache.verify import PairModel, PairVerifier, Verifier, load_verifier  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "tests" / "data" / "oos" / "cache_pairs.jsonl"))
    ap.add_argument("--png", default=str(ROOT / "docs" / "img" / "cache_verifier_sweep.png"))
    ap.add_argument(
        "--compare",
        action="append",
        default=[],
        help="another verifier whose sweep is drawn beside: a lexical asset (.npz) or a pair model (.onnx)",
    )
    args = ap.parse_args()
    from semrouter.embed.service import EmbeddingService

    rows = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [
        (v, r["original"], r["kind"], r.get("family") or "-", r.get("source") or "-")
        for r in rows
        for v in r["variants"]
    ]
    texts = sorted({t for q, s, *_ in pairs for t in (q, s)})
    vecs = dict(zip(texts, EmbeddingService.default().embed_many(texts), strict=True))
    settings = VerifierSettings()
    verifier = load_verifier(settings.model)
    others: dict[str, PairVerifier] = {
        Path(p).name: PairModel(p) if p.endswith(".onnx") else Verifier.load(p) for p in args.compare
    }
    floor = settings.min_similarity
    recs = []
    for q, s, kind, family, source in pairs:
        cos = float(np.dot(vecs[q], vecs[s]))
        score = verifier.score(q, normalize(s), cos)
        recs.append(
            {
                "kind": kind,
                "family": family,
                "source": source,
                "cos": cos,
                "score": score,
                "others": {name: v.score(q, normalize(s), cos) for name, v in others.items()},
                "before": cos >= 0.80 and compatible(q, normalize(s)),
                "after": cos >= floor and score >= verifier.threshold,
            }
        )

    def rate(rs: list[dict[str, Any]], key: str) -> float:
        return round(float(np.mean([r[key] for r in rs])), 4) if rs else float("nan")

    out: dict[str, Any] = {
        "model": settings.model,
        "threshold": verifier.threshold,
        "min_similarity": floor,
        "overall": {},
        "families": {},
        "sources": {},
    }
    for kind in ("paraphrase", "near_miss"):
        rs = [r for r in recs if r["kind"] == kind]
        out["overall"][kind] = {"n": len(rs), "before": rate(rs, "before"), "after": rate(rs, "after")}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        if r["kind"] == "near_miss":
            groups[r["family"]].append(r)
    out["families"] = {
        f: {"n": len(rs), "before": rate(rs, "before"), "after": rate(rs, "after")} for f, rs in sorted(groups.items())
    }
    for src in sorted({r["source"] for r in recs}):
        rs = [r for r in recs if r["source"] == src]
        out["sources"][src] = {
            k: {
                "before": rate([r for r in rs if r["kind"] == k], "before"),
                "after": rate([r for r in rs if r["kind"] == k], "after"),
            }
            for k in ("paraphrase", "near_miss")
        }
    grid = [round(0.02 * i, 2) for i in range(1, 50)]
    sweep = {"threshold": grid, "hit_rate": [], "false_hit_rate": []}
    for t in grid:
        for kind, key in (("paraphrase", "hit_rate"), ("near_miss", "false_hit_rate")):
            rs = [r for r in recs if r["kind"] == kind]
            sweep[key].append(float(np.mean([r["cos"] >= floor and r["score"] >= t for r in rs])))
    out["sweep"] = {k: [round(x, 4) for x in v] for k, v in sweep.items()}
    out["sweep_others"] = {}
    for name in others:
        curve: dict[str, list[float]] = {"hit_rate": [], "false_hit_rate": []}
        for t in grid:
            for kind, key in (("paraphrase", "hit_rate"), ("near_miss", "false_hit_rate")):
                rs = [r for r in recs if r["kind"] == kind]
                curve[key].append(round(float(np.mean([r["cos"] >= floor and r["others"][name] >= t for r in rs])), 4))
        out["sweep_others"][name] = curve
    print(json.dumps(out, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, roc) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot(grid, sweep["hit_rate"], label="paraphrases served (hit rate)")
    ax.plot(grid, sweep["false_hit_rate"], label="near misses served (false-hit rate)")
    ax.axvline(verifier.threshold, color="grey", linestyle="--", label=f"shipped threshold {verifier.threshold:.2f}")
    b_hit, b_false = out["overall"]["paraphrase"]["before"], out["overall"]["near_miss"]["before"]
    ax.scatter([0.01, 0.01], [b_hit, b_false], marker="x", color="black", label="before (cosine 0.80 + lexical guard)")
    ax.set_xlabel("verifier threshold (P same question)")
    ax.set_ylabel("share served from cache")
    ax.set_title(f"Cache verifier ({settings.model}) on out-of-source pairs (cosine >= {floor:.2f})")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    # the trade-off itself: paraphrases served against near misses served, one point per threshold
    roc.plot(sweep["false_hit_rate"], sweep["hit_rate"], marker=".", label=f"shipped verifier ({settings.model})")
    for name, curve in out["sweep_others"].items():
        kind = "pair" if name.endswith(".onnx") else "lexical"
        roc.plot(curve["false_hit_rate"], curve["hit_rate"], marker=".", label=f"{kind}, {name}")
    roc.scatter([b_false], [b_hit], marker="x", color="black", label="before (cosine 0.80 + lexical guard)")
    roc.set_xlabel("near misses served (false-hit rate)")
    roc.set_ylabel("paraphrases served (hit rate)")
    roc.set_xlim(0, 0.4)
    roc.set_ylim(0, 1)
    roc.set_title("Hits against false hits, every threshold")
    roc.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
