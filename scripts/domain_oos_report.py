"""Per-source / per-category accuracy of domain heads on the out-of-source sets, and the head's cost.

Why: ``docs/benchmarks.md`` ("domain-oos") compares heads (e.g. the embedding-only head before issue 16
and the shipped one) on ``tests/data/oos/domain_*.jsonl``, which never feed training or tuning. The
prediction is what the built-in config routes on: argmax, or the fallback ``other`` below the domain
signal's threshold (0.3). Prints markdown tables and the head's per-request latency (embedding given).

    python scripts/domain_oos_report.py --head before=/tmp/old_head.npz \
        --head after=semrouter/embed/assets/domain_head.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from semrouter.embed.heads import LinearHead  # noqa: E402
from semrouter.embed.model import EmbeddingModel  # noqa: E402
from semrouter.embed.service import EmbeddingService  # noqa: E402
from semrouter.eval.metrics import accuracy_by, group_consistency  # noqa: E402

OOS = ROOT / "tests" / "data" / "oos"
FILES = ("domain_mmlu_pro_style", "domain_conversational", "domain_paraphrase")
LATENCY_TEXT = (
    "I'm studying for my thermodynamics exam and my professor asked how the efficiency of an ideal Rankine "
    "cycle changes when the boiler pressure is raised while the condenser pressure stays fixed. Can you explain "
    "why, and what happens to the moisture at the turbine exit?"
)  # 59 tokens


def routed(head: LinearHead, x: np.ndarray, texts: list[str], threshold: float, fallback: str) -> list[str]:
    probs = head.proba(x, texts if head.lexical else None)
    top = probs.argmax(1)
    return [head.labels[int(i)] if probs[n, i] >= threshold else fallback for n, i in enumerate(top)]


def head_latency_ms(head: LinearHead, vec: np.ndarray, text: str, n: int = 2000) -> float:
    for _ in range(100):
        head.proba(vec, text if head.lexical else None)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        head.proba(vec, text if head.lexical else None)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--head", action="append", required=True, help="NAME=PATH, repeatable (first is 'before')")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    heads = {k: LinearHead.load(v) for k, v in (h.split("=", 1) for h in args.head)}
    svc = EmbeddingService(EmbeddingModel())
    result: dict[str, dict[str, Any]] = {}
    for name in FILES:
        rows = [json.loads(x) for x in (OOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        texts = [r["text"] for r in rows]
        gold = [r["category"] for r in rows]
        x = svc.embed_many(texts)
        for hname, head in heads.items():
            pred = routed(head, x, texts, args.threshold, "other")
            by = accuracy_by(gold, pred, [r["source"] for r in rows])
            groups = [r.get("group") for r in rows]
            result.setdefault(name, {})[hname] = {
                "by_source": by,
                "by_family": accuracy_by(gold, pred, [r["family"] for r in rows]),
                "consistency": group_consistency(groups, pred),
            }
    vec = svc.embed_many([LATENCY_TEXT])[0]
    latency = {h: round(head_latency_ms(head, vec, LATENCY_TEXT), 4) for h, head in heads.items()}
    if args.json:
        print(json.dumps({"results": result, "head_latency_ms_p50": latency}, indent=1))
        return 0
    names = list(heads)
    print("| set (source) | rows | " + " | ".join(f"{h} accuracy" for h in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for name in FILES:
        for src, b in result[name][names[0]]["by_source"].items():
            accs = [result[name][h]["by_source"][src]["accuracy"] for h in names]
            print(f"| {name} ({src}) | {b['n']} | " + " | ".join(f"{a:.3f}" for a in accs) + " |")
    for name in FILES:
        for h in names:
            c = result[name][h]["consistency"]
            if c:
                print(f"{name} {h}: paraphrase consistency pairwise {c['pairwise']:.3f}, all-same {c['all_same']:.3f}")
    cats = sorted(next(iter(result[FILES[0]][names[0]]["by_source"].values()))["per_category"])
    print("\n| category | " + " | ".join(f"{n.removeprefix('domain_')} {' → '.join(names)}" for n in FILES) + " |")
    print("|---|" + "---|" * len(FILES))
    for c in cats:
        cells = []
        for name in FILES:
            vals = []
            for h in names:
                by = result[name][h]["by_source"]
                per = next(iter(by.values()))["per_category"]
                vals.append(f"{per[c]['accuracy']:.2f}" if c in per else "-")
            cells.append(" → ".join(vals))
        print(f"| {c} | " + " | ".join(cells) + " |")
    print("\nhead p50 per request (embedding given): " + ", ".join(f"{h} {v} ms" for h, v in latency.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
