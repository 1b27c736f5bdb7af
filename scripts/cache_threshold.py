"""Measure the semantic-cache hit rule on ``tests/data/cache_pairs.jsonl`` + the shared paraphrase cases.

For every (original, variant) pair: the cosine of the shipped embeddings, and whether
``semrouter.cache.match.compatible`` accepts it. Hit rate = paraphrase variants served; false-hit rate =
near-miss variants served. Groups are split by position (even → tune, odd → report) so the threshold is
chosen on one half and reported on the other. Writes a table to stdout and the curve to
``docs/img/cache_threshold.png`` (needs matplotlib, not a project dependency).

Run: ``PYTHONPATH=. python scripts/cache_threshold.py [--no-plot]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from semrouter.cache.match import compatible, normalize
from semrouter.embed.model import EmbeddingModel

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "tests" / "data" / "cache_pairs.jsonl"
SHARED = ROOT.parent / "shared" / "data" / "cache" / "paraphrase_cases.json"
THRESHOLDS = [round(0.70 + 0.01 * i, 2) for i in range(29)]


def load_groups() -> list[dict[str, object]]:
    groups = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    for g in groups:
        g["source"] = "ours"
    if SHARED.is_file():
        for case in json.loads(SHARED.read_text(encoding="utf-8")):
            groups.append(
                {
                    "kind": "paraphrase",
                    "original": case["original_question"],
                    "variants": case["similar_questions"],
                    "source": "shared",
                }
            )
    return groups


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--scored", default="/tmp/cache_pairs_scored.jsonl", help="every pair with its cosine")
    args = ap.parse_args()
    groups = load_groups()
    texts = sorted({t for g in groups for t in [g["original"], *g["variants"]]})  # type: ignore[list-item]
    model = EmbeddingModel()
    vecs = dict(zip(texts, model.embed(texts), strict=True))
    rows = []  # (kind, half, cosine, compatible, original, variant)
    counters = {"paraphrase": 0, "near_miss": 0}
    for g in groups:
        kind = str(g["kind"])
        half = "tune" if counters[kind] % 2 == 0 else "report"
        counters[kind] += 1
        orig = str(g["original"])
        for v in g["variants"]:  # type: ignore[attr-defined]
            cos = float(vecs[orig] @ vecs[v])
            rows.append((kind, half, cos, compatible(v, normalize(orig)), orig, v))

    def rates(half: str | None, t: float, use_match: bool) -> tuple[float, float, int, int]:
        sel = [r for r in rows if half is None or r[1] == half]
        par = [r for r in sel if r[0] == "paraphrase"]
        near = [r for r in sel if r[0] == "near_miss"]
        ok = lambda r: r[2] >= t and (r[3] or not use_match)  # noqa: E731
        return (sum(map(ok, par)) / len(par), sum(map(ok, near)) / len(near), len(par), len(near))

    print(
        f"{len(groups)} groups; pairs: {sum(r[0] == 'paraphrase' for r in rows)} paraphrase, "
        f"{sum(r[0] == 'near_miss' for r in rows)} near-miss"
    )
    print(
        "thr   | tune: hit  false (matcher) | tune: hit  false (cos only) | report: hit false (matcher) "
        "| all: hit false"
    )
    for t in THRESHOLDS:
        th, tf, *_ = rates("tune", t, True)
        ch, cf, *_ = rates("tune", t, False)
        rh, rf, *_ = rates("report", t, True)
        ah, af, *_ = rates(None, t, True)
        print(f"{t:.2f}  | {th:.3f} {tf:.3f} | {ch:.3f} {cf:.3f} | {rh:.3f} {rf:.3f} | {ah:.3f} {af:.3f}")
    out = Path(args.scored)
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(
                json.dumps(
                    {
                        "kind": r[0],
                        "half": r[1],
                        "cos": round(r[2], 4),
                        "compatible": r[3],
                        "original": r[4],
                        "variant": r[5],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for half, style in (("tune", "-"), ("report", "--")):
            hm = [rates(half, t, True) for t in THRESHOLDS]
            hc = [rates(half, t, False) for t in THRESHOLDS]
            ax.plot(THRESHOLDS, [h[0] for h in hm], "g" + style, label=f"hit rate, matcher ({half})")
            ax.plot(THRESHOLDS, [h[1] for h in hm], "r" + style, label=f"false-hit rate, matcher ({half})")
            ax.plot(THRESHOLDS, [h[0] for h in hc], "c" + style, alpha=0.6, label=f"hit rate, cosine only ({half})")
            ax.plot(
                THRESHOLDS, [h[1] for h in hc], "m" + style, alpha=0.6, label=f"false-hit rate, cosine only ({half})"
            )
        ax.axhline(0.9, color="g", lw=0.5, ls=":")
        ax.axhline(0.02, color="r", lw=0.5, ls=":")
        ax.set_xlabel("cosine threshold")
        ax.set_ylabel("rate")
        ax.set_title("semantic cache: paraphrases served vs near misses served (MiniLM-L6 int8)")
        ax.legend(fontsize=7, loc="center left")
        ax.grid(alpha=0.3)
        img = ROOT / "docs" / "img" / "cache_threshold.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(img, dpi=110)
        print("plot:", img)


if __name__ == "__main__":
    main()
