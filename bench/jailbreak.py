"""Jailbreak detector on the dev set and the out-of-source set: recall / false-positive rate per group, latency.

Why per source: an overall number hides where the detector fails (a held-out template family, the
hand-written tricky benign prompts); the gate in ``tests/unit/test_jailbreak_model.py`` checks the
overall numbers, this prints the breakdown. Latency is measured for ``JailbreakDetector.score`` alone,
i.e. the cost *beyond* the shared embedding, which the pipeline computes once per request anyway.

    python bench/jailbreak.py [--dev tests/data/jailbreak_dev.jsonl] [--embedding-cache /tmp/jb_emb.npz] [--write]
        [--oos tests/data/oos/attacks.jsonl] [--baseline-head OLD.npz]

The out-of-source set (``tests/data/oos/attacks.jsonl``, built by ``scripts/build_attack_oos.py`` from
sources that contribute nothing to training or tuning) is the honest figure: it is broken down per source,
attack family, language and ordinary vs tricky benign; ``--baseline-head`` adds a "before" column from an
older head. Conversations (``messages`` rows) are scored as the guard stage scores them: the last user
turn's embedding, with the earlier user turns as ``context``. ``--write`` replaces the ``jailbreak``
section of docs/benchmarks.md.
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

sys.path.insert(0, str(ROOT / "bench"))
from common import machine, write_section  # noqa: E402

from semrouter.embed.train import embed_cached  # noqa: E402
from semrouter.guards.jailbreak import JailbreakDetector  # noqa: E402
from semrouter.guards.jailbreak_train import load_rows  # noqa: E402


def evaluate(dev: Path, cache: Path | None) -> dict[str, object]:
    det = JailbreakDetector.load()
    rows = load_rows(dev)
    texts = [r["text"] for r in rows]
    emb = embed_cached(texts, cache=cache)
    probs = np.array([det.score(t, e)[0] for t, e in zip(texts, emb, strict=True)])
    flag = probs >= det.threshold
    y = np.array([r["label"] == "jailbreak" for r in rows])
    src = np.array([r["source"] for r in rows])
    per: dict[str, dict[str, float | int]] = {}
    for s in sorted(set(src)):
        m = src == s
        pos, neg = m & y, m & ~y
        per[s] = {
            "n_jailbreak": int(pos.sum()),
            "recall": round(float(flag[pos].mean()), 4) if pos.any() else float("nan"),
            "n_benign": int(neg.sum()),
            "fpr": round(float(flag[neg].mean()), 4) if neg.any() else float("nan"),
        }

    lat: dict[str, float] = {}
    for name, sel in (("short (<300 chars)", [t for t in texts if len(t) < 300]), ("all dev prompts", texts)):
        sample = sel[:1000]
        vecs = emb[: len(sample)]
        t_all = []
        for t, e in zip(sample, vecs, strict=True):
            t0 = time.perf_counter()
            det.score(t, e)
            t_all.append(time.perf_counter() - t0)
        arr = np.array(t_all) * 1e3
        lat[f"{name} p50 ms"] = round(float(np.percentile(arr, 50)), 4)
        lat[f"{name} p99 ms"] = round(float(np.percentile(arr, 99)), 4)
    long_text = max(texts, key=len)
    t0 = time.perf_counter()
    for _ in range(200):
        det.score(long_text, emb[0])
    lat[f"longest prompt ({len(long_text)} chars) ms"] = round((time.perf_counter() - t0) / 200 * 1e3, 4)
    # a conversation: the longest prompt as the last turn, three long earlier turns read through the window
    context = sorted(texts, key=len)[-4:-1]
    t0 = time.perf_counter()
    for _ in range(200):
        det.score(long_text, emb[0], context)
    lat["same, with 3 earlier long turns ms"] = round((time.perf_counter() - t0) / 200 * 1e3, 4)

    return {
        "threshold": det.threshold,
        "overall": {
            "recall": round(float(flag[y].mean()), 4),
            "fpr": round(float(flag[~y].mean()), 4),
            "n_jailbreak": int(y.sum()),
            "n_benign": int((~y).sum()),
            "tricky_fpr": per.get("tricky/dev", {}).get("fpr"),
        },
        "per_source": per,
        "latency_beyond_embedding": lat,
    }


def oos_items(path: Path) -> tuple[list[dict[str, Any]], list[tuple[str, list[str]]]]:
    """OOS rows and, per row, (last user turn, earlier user turns): what the guard stage scores."""
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
    items = []
    for r in rows:
        if "text" in r:
            items.append((str(r["text"]), []))
        else:
            users = [str(m["content"]) for m in r["messages"] if m["role"] == "user"]
            items.append((users[-1], users[:-1]))
    return rows, items


def oos_rates(path: Path, heads: dict[str, Path | None], cache: Path | None) -> dict[str, Any]:
    """Recall / false-positive rate per source, family, language and benign kind, for each head."""
    from semrouter.eval.metrics import detection_rates_by

    rows, items = oos_items(path)
    emb = embed_cached([t for t, _ in items], cache=cache)
    y = [r["label"] == "attack" for r in rows]
    keys = {
        "source": [r["source"] for r in rows],
        "family": [r["family"] for r in rows],
        "language": [r["language"] for r in rows],
        "benign kind": ["attack" if r["label"] == "attack" else "tricky" if r["tricky"] else "ordinary" for r in rows],
    }
    out: dict[str, Any] = {}
    probs: dict[str, list[float]] = {}
    thresholds: dict[str, float] = {}
    for name, head in heads.items():
        det = JailbreakDetector.load(head)
        probs[name] = [det.score(t, e, c)[0] for (t, c), e in zip(items, emb, strict=True)]
        thresholds[name] = det.threshold
    runs = [(name, name) for name in heads]
    if "before" in heads:  # the new head at the old threshold: where it sits on the same ROC curve
        runs.append(("shipped@before-thr", "shipped"))
        thresholds["shipped@before-thr"] = thresholds["before"]
    for name, head_name in runs:
        flag = [p >= thresholds[name] for p in probs[head_name]]
        out[name] = {
            "threshold": thresholds[name],
            "all": detection_rates_by(y, flag, ["all"] * len(y))["all"],
            **{k: detection_rates_by(y, flag, v) for k, v in keys.items()},
        }
    return out


def _rate(g: dict[str, Any], which: str) -> str:
    n, v = (g["n_positive"], g["recall"]) if which == "recall" else (g["n_negative"], g["false_positive_rate"])
    return f"{v:.3f}" if n else "-"


def oos_section(r: dict[str, Any]) -> str:
    names = list(r)
    lines = [
        "### Out-of-source set (issue 16)",
        "",
        "`tests/data/oos/attacks.jsonl` (built by `scripts/build_attack_oos.py`): attacks and benign prompts from "
        "sources that contribute nothing to training or threshold tuning (`garak-multilingual`, "
        "`agent-injection-bench`, `spikee`, semantic-router's `dev_eval.json`, and prompts written for this set "
        "only), near-duplicates of training text removed. Conversations are scored with their earlier user "
        "turns as context. Columns: " + ", ".join(f"{n} (threshold {r[n]['threshold']:.4f})" for n in names) + ". "
        "`shipped@before-thr` is the shipped head at the old threshold, for reading both heads on one ROC curve; "
        "the shipped threshold comes from the validation split only (<= 1% of ordinary validation benign). "
        "Issue 16's targets: attack recall >= 0.95 with <= 1% ordinary and <= 3% tricky benign flagged, "
        ">= 0.90 per family and per language.",
        "",
    ]
    for key in ("benign kind", "family", "language", "source"):
        head = f"| {key} | attacks | " + " | ".join(f"recall {n}" for n in names) + " | benign | "
        head += " | ".join(f"FPR {n}" for n in names) + " |"
        lines += [head, "|" + "---|" * (3 + 2 * len(names))]
        first = r[names[0]][key]
        for k in first:
            g0 = first[k]
            lines.append(
                f"| {k} | {g0['n_positive'] or '-'} | "
                + " | ".join(_rate(r[n][key][k], "recall") for n in names)
                + f" | {g0['n_negative'] or '-'} | "
                + " | ".join(_rate(r[n][key][k], "fpr") for n in names)
                + " |"
            )
        a0 = r[names[0]]["all"]
        lines.append(
            f"| **all** | **{a0['n_positive']}** | "
            + " | ".join(f"**{_rate(r[n]['all'], 'recall')}**" for n in names)
            + f" | **{a0['n_negative']}** | "
            + " | ".join(f"**{_rate(r[n]['all'], 'fpr')}**" for n in names)
            + " |"
        )
        lines.append("")
    return "\n".join(lines)


def _label(source: str) -> str:
    return {
        "tricky/dev": "tricky benign, hand-written",
        "tricky/short-dev": "short chat turns",
        "tricky/multilingual-dev": "non-English benign",
        "mmlu/held-out": "MMLU, held out",
    }.get(source, source.removeprefix("families/"))


def _cell(n: object, rate: object) -> tuple[str, str]:
    return (str(n), f"{rate:.3f}") if isinstance(n, int) and n else ("-", "-")


def section(r: dict[str, object], command: str) -> str:
    per = r["per_source"]
    overall = r["overall"]
    lat = r["latency_beyond_embedding"]
    assert isinstance(per, dict) and isinstance(overall, dict) and isinstance(lat, dict)
    lines = [
        "## Jailbreak detector, dev set (issue 4)",
        "",
        f"Machine: {machine()}. Command: `{command}` over `tests/data/jailbreak_dev.jsonl` (held-out splits and "
        "sources, none of it in `data/jailbreak/train.jsonl`; see `data/jailbreak/README.md`), shipped threshold "
        f"{r['threshold']:.4f}, chosen for 1% false positives on a validation split of the training data.",
        "",
        "| source | jailbreaks | recall | benign | false-positive rate |",
        "|---|---|---|---|---|",
    ]
    sources = sorted(per, key=lambda s: (s.startswith("families/"), s.startswith("tricky/"), s))
    for s in sources:
        m = per[s]
        lines.append(
            f"| {_label(s)} | "
            + " | ".join((*_cell(m["n_jailbreak"], m["recall"]), *_cell(m["n_benign"], m["fpr"])))
            + " |"
        )
    lines.append(
        f"| **all** | **{overall['n_jailbreak']}** | **{overall['recall']:.3f}** | **{overall['n_benign']}** "
        f"| **{overall['fpr']:.4f}** |"
    )
    lines += [
        "",
        "Rows named after an attack family are hand-written dev-only attacks (10 each, 16 encoded: base64, "
        "leetspeak, Cyrillic look-alikes).",
        "",
        "Scoring cost beyond the shared embedding: " + ", ".join(f"{k} {v}" for k, v in lat.items()) + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev", type=Path, default=ROOT / "tests" / "data" / "jailbreak_dev.jsonl")
    ap.add_argument("--embedding-cache", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--oos", type=Path, default=ROOT / "tests" / "data" / "oos" / "attacks.jsonl")
    ap.add_argument("--baseline-head", type=Path, default=None, help="an older head for a 'before' column")
    ap.add_argument("--write", action="store_true", help="write the jailbreak section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    r = evaluate(args.dev, args.embedding_cache)
    heads: dict[str, Path | None] = {"before": args.baseline_head} if args.baseline_head else {}
    heads["shipped"] = None
    oos = oos_rates(args.oos, heads, args.embedding_cache) if args.oos.exists() else None
    r["oos"] = oos
    if args.write:
        text = section(r, "python bench/jailbreak.py --write")
        if oos is not None:
            text += "\n\n" + oos_section(oos)
        write_section("jailbreak", text)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"threshold {r['threshold']:.4f}  overall {r['overall']}")
    print(f"{'source':<28}{'n_jb':>6}{'recall':>8}{'n_ben':>7}{'fpr':>8}")
    per = r["per_source"]
    assert isinstance(per, dict)
    for s, m in per.items():
        print(f"{s:<28}{m['n_jailbreak']:>6}{m['recall']:>8.3f}{m['n_benign']:>7}{m['fpr']:>8.3f}")
    print("latency beyond the embedding:", r["latency_beyond_embedding"])
    if oos is not None:
        print(oos_section(oos))
    return 0


if __name__ == "__main__":
    sys.exit(main())
