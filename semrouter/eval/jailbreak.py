"""``semrouter eval jailbreak``: recall and false-positive rate of the jailbreak guard on your prompts.

Input lines ``{"text", "label": "jailbreak" | "benign"}`` (optional ``source``: figures are then broken down
per source, as in ``tests/data/jailbreak_dev.jsonl``). The guard runs inside the real pipeline, so what is
measured is what a live request gets: the probability recorded on the ``jailbreak`` signal, flagged at the
threshold the guard applies (``guards.jailbreak.threshold``, else the one calibrated at training). The ROC
curve sweeps the same probability; the marked point is the configured threshold.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from typing import Any

from semrouter.eval.common import (
    EvalError,
    command_line,
    emit,
    field,
    header_markdown,
    load_eval_config,
    load_rows,
    route_items,
)
from semrouter.eval.metrics import binary_rates, latency_summary, roc_auc, roc_curve, thin_curve
from semrouter.eval.report import Report, bar_plot, fmt, roc_plot

_POSITIVE = {"jailbreak": True, "injection": True, "malicious": True, "benign": False, "safe": False}


def _label(data: str, line: int, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _POSITIVE:
        return _POSITIVE[value.lower()]
    raise EvalError(f"{data}:{line}: label must be 'jailbreak' or 'benign', not {value!r}")


async def evaluate(
    config_path: str | None, data: str, *, limit: int | None = None, progress: bool = True
) -> dict[str, Any]:
    config, source, notes = load_eval_config(config_path, {"guards.jailbreak": {"enabled": True}})
    rows = load_rows(data, limit)
    texts = [field(data, r, ("text", "prompt")) for r in rows]
    positive = [_label(data, r.line, field(data, r, ("label",), (str, int, bool))) for r in rows]
    routes = await route_items(config, [{"text": t} for t in texts], desc="jailbreak", show_progress=progress)
    scores, flagged, thresholds = [], [], set()
    for r in routes:
        sig = r["signals"].get("jailbreak")
        if sig is None:  # the guard skipped the request (it failed open): report it, count it as not flagged
            scores.append(0.0)
            flagged.append(False)
            continue
        scores.append(float(sig["confidence"]))
        flagged.append(bool(sig["matched"]))
        thresholds.add(sig.get("detail", {}).get("threshold"))
    unscored = sum(1 for r in routes if "jailbreak" not in r["signals"])
    if unscored:
        notes.append(
            f"{unscored} request(s) carry no jailbreak verdict (the guard failed open); counted as not flagged."
        )
    rates = binary_rates(positive, flagged)
    fpr, tpr, thr = roc_curve(positive, scores)
    groups: dict[str, dict[str, Any]] = {}
    sources = [str(r.data.get("source", "")) for r in rows]
    if any(sources):
        for s in sorted(set(sources)):
            idx = [i for i, x in enumerate(sources) if x == s]
            g = binary_rates([positive[i] for i in idx], [flagged[i] for i in idx])
            groups[s] = {
                "n_jailbreak": g["tp"] + g["fn"],
                "recall": g["recall"] if g["tp"] + g["fn"] else None,
                "n_benign": g["fp"] + g["tn"],
                "false_positive_rate": g["false_positive_rate"] if g["fp"] + g["tn"] else None,
            }
    kinds = Counter(str(r["jailbreak"]["type"]) for r, f in zip(routes, flagged, strict=True) if f)
    misses = [
        {"line": row.line, "text": t[:200], "label": "jailbreak" if y else "benign", "score": round(s, 4)}
        for row, t, y, f, s in zip(rows, texts, positive, flagged, scores, strict=True)
        if y != f
    ]
    return {
        "command": "jailbreak",
        "command_line": command_line(),
        "data": str(data),
        "config": source,
        "notes": notes,
        "n": len(rows),
        "n_jailbreak": sum(positive),
        "n_benign": len(positive) - sum(positive),
        "threshold": max((t for t in thresholds if t is not None), default=None),
        **rates,
        "auc": roc_auc(positive, scores),
        "roc": thin_curve({"fpr": fpr, "tpr": tpr, "threshold": [min(t, 1.0) for t in thr]}),
        "by_source": groups,
        "flagged_types": dict(kinds),
        "mistakes": misses[:50],
        "n_mistakes": len(misses),
        "latency_ms": latency_summary([float(r["latency_ms"]) for r in routes]),
    }


def summary(m: dict[str, Any]) -> str:
    auc = f"{m['auc']:.4f}" if m["auc"] is not None else "n/a"
    lines = [
        f"jailbreak: {m['n_jailbreak']} jailbreaks, {m['n_benign']} benign; threshold {m['threshold']}",
        f"recall {m['recall']:.4f}  false-positive rate {m['false_positive_rate']:.4f}  "
        f"precision {m['precision']:.4f}  AUC {auc}",
    ]
    for s, g in m["by_source"].items():
        lines.append(f"  {s:<28} recall {fmt(g['recall'], 4):>6}  fpr {fmt(g['false_positive_rate'], 4):>6}")
    return "\n".join(lines)


def render(report: Report, m: dict[str, Any]) -> None:
    report.text(header_markdown(m))
    auc = f"{m['auc']:.4f}" if m["auc"] is not None else "n/a (one class only)"
    report.text(
        f"At the configured threshold {m['threshold']}: **recall {m['recall']:.4f}**, "
        f"**false-positive rate {m['false_positive_rate']:.4f}**, precision {m['precision']:.4f}; ROC AUC {auc}. "
        f"TP {m['tp']}, FN {m['fn']}, FP {m['fp']}, TN {m['tn']}."
    )
    roc = m["roc"]
    report.figure(
        "roc",
        roc_plot(
            {"jailbreak guard": (roc["fpr"], roc["tpr"])},
            "Jailbreak guard ROC",
            {"configured threshold": (m["false_positive_rate"], m["recall"])},
        ),
        "ROC curve",
    )
    if m["by_source"]:
        report.text("## Per source")
        report.table(
            ["source", "jailbreaks", "recall", "benign", "false-positive rate"],
            [
                [s, g["n_jailbreak"], g["recall"], g["n_benign"], g["false_positive_rate"]]
                for s, g in m["by_source"].items()
            ],
        )
        names = list(m["by_source"])
        report.figure(
            "per_source",
            bar_plot(
                names,
                {
                    "recall": [g["recall"] for g in m["by_source"].values()],
                    "false-positive rate": [g["false_positive_rate"] for g in m["by_source"].values()],
                },
                "Per source",
                "rate",
                (0, 1.1),
            ),
            "per-source recall and false-positive rate",
        )
    if m["mistakes"]:
        report.text(f"## Mistakes ({m['n_mistakes']}; first {len(m['mistakes'])})")
        report.table(
            ["line", "label", "score", "text"],
            [[e["line"], e["label"], e["score"], e["text"][:90]] for e in m["mistakes"]],
        )


def run(args: argparse.Namespace) -> int:
    metrics = asyncio.run(evaluate(args.config, args.data, limit=args.limit, progress=not args.no_progress))
    return emit(args, metrics, summary, render, "Jailbreak guard evaluation")
