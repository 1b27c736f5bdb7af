"""Both guards together on both out-of-source sets: what a gateway with the attack and the harmful guard on sees.

Why: issue 16's target is for attacks *plus* harmful requests (recall >= 95% with <= 1% ordinary and <= 3%
tricky benign prompts flagged), and each guard's own gate test reads only its own set. Here a prompt counts as
flagged when either guard flags it at its shipped thresholds; conversations are scored as the guard stage
scores them (the last user turn, the earlier user turns as the attack guard's context). Each ``--pair`` names
an attack head and a harmful head, so heads can be compared in one run::

    python scripts/guards_oos_report.py --pair before=OLD_JB.npz,OLD_HARM.npz \\
        --pair after=semrouter/guards/assets/jailbreak_head.npz,semrouter/guards/assets/harmful_head.npz

With no ``--pair`` it scores the shipped heads. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from semrouter.embed.train import embed_cached  # noqa: E402
from semrouter.guards.harmful import HARMFUL_HEAD_PATH, HarmfulDetector  # noqa: E402
from semrouter.guards.jailbreak import JAILBREAK_HEAD_PATH, JailbreakDetector  # noqa: E402

OOS = ROOT / "tests" / "data" / "oos"


def turns(row: dict[str, Any]) -> tuple[str, list[str]]:
    """(last user turn, earlier user turns) of a row with ``text`` or ``messages``."""
    if "text" in row:
        return str(row["text"]), []
    users = [str(m["content"]) for m in row["messages"] if m["role"] == "user"]
    return users[-1], users[:-1]


def slices(jb: JailbreakDetector, hd: HarmfulDetector, cache: Path | None) -> dict[str, list[bool]]:
    """Flag per row, grouped: positives, non-English positives, ordinary and tricky benign, per set."""
    out: dict[str, list[bool]] = {}
    for name in ("attacks", "harmful"):
        rows = [json.loads(x) for x in (OOS / f"{name}.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()]
        tt = [turns(r) for r in rows]
        emb = embed_cached([t for t, _ in tt], None, cache)
        for r, (text, context), e in zip(rows, tt, emb, strict=True):
            flagged = jb.score(text, e, context)[0] >= jb.threshold or hd.detect(text, e).detected
            if r["label"] == "benign":
                keys = [
                    f"{name}: {'tricky' if r.get('tricky') else 'ordinary'} benign",
                    f"all: {'tricky' if r.get('tricky') else 'ordinary'} benign",
                ]
            else:
                keys = [f"{name}: caught", "all: caught"]
                if r.get("language", "en") != "en":
                    keys += [f"{name}: non-English caught", "all: non-English caught"]
            for k in keys:
                out.setdefault(k, []).append(bool(flagged))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", action="append", default=[], help="NAME=ATTACK_HEAD.npz,HARMFUL_HEAD.npz")
    ap.add_argument("--embedding-cache", type=Path, default=None, help=".npz cache of embeddings by text SHA-1")
    args = ap.parse_args(argv)
    pairs = args.pair or [f"shipped={JAILBREAK_HEAD_PATH},{HARMFUL_HEAD_PATH}"]
    results = {}
    for spec in pairs:
        name, _, paths = spec.partition("=")
        jb_path, _, hd_path = paths.partition(",")
        if not (name and jb_path and hd_path):
            ap.error(f"--pair {spec!r}: expected NAME=ATTACK_HEAD.npz,HARMFUL_HEAD.npz")
        results[name] = slices(JailbreakDetector.load(jb_path), HarmfulDetector.load(hd_path), args.embedding_cache)
    first = next(iter(results.values()))
    print("| slice (either guard flags) | n | " + " | ".join(results) + " |")
    print("|---|---|" + "---|" * len(results))
    for key in sorted(first, key=lambda k: (not k.startswith("all"), k)):
        cells = " | ".join(f"{np.mean(r[key]):.3f}" for r in results.values())
        print(f"| {key} | {len(first[key])} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
