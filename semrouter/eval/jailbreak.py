"""``semrouter eval jailbreak``: recall and false-positive rate of the jailbreak guard on your prompts.

Input lines ``{"text" | "messages", "label": "jailbreak" | "attack" | "benign"}``; a ``messages`` row is
a conversation, routed whole, so the guard reads its last user turn with the turns before it. Optional
``source``, ``family``, ``language`` and ``tricky`` (bool) fields break the figures down per value (recall and
false-positive rate per group; ``tricky`` splits benign rows into ordinary and tricky), as in
``tests/data/jailbreak_dev.jsonl`` and the out-of-source set ``tests/data/oos/attacks.jsonl``. The guard runs
inside the real pipeline, so what is measured is what a live request gets: the probability recorded on the
``jailbreak`` signal, flagged at the threshold the guard applies (``guards.jailbreak.threshold``, else the one
calibrated at training). The ROC curve sweeps the same probability; the marked point is the configured
threshold.
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
from semrouter.eval.metrics import binary_rates, detection_rates_by, latency_summary, roc_auc, roc_curve, thin_curve
from semrouter.eval.report import Report, bar_plot, fmt, roc_plot

_POSITIVE = {"jailbreak": True, "attack": True, "injection": True, "malicious": True, "benign": False, "safe": False}
BREAKDOWNS = ("source", "family", "language")


def _label(data: str, line: int, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _POSITIVE:
        return _POSITIVE[value.lower()]
    raise EvalError(f"{data}:{line}: label must be 'jailbreak' (or 'attack') or 'benign', not {value!r}")


def _item(data: str, row: Any) -> tuple[dict[str, Any], str]:
    """(route item, text shown in mistakes) of a row with ``text``/``prompt`` or ``messages``."""
    messages = row.data.get("messages")
    if messages is None:
        text = field(data, row, ("text", "prompt"))
        return {"text": text}, text
    if not isinstance(messages, list) or not messages:
        raise EvalError(f"{data}:{row.line}: 'messages' must be a non-empty array")
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return {"messages": messages}, " | ".join(str(u) for u in users)


def _kind(data: str, row: Any) -> str:
    """``ordinary`` / ``tricky`` for a row with a ``tricky`` flag (else empty)."""
    value = row.data.get("tricky")
    if value is None:
        return ""
    if not isinstance(value, bool):
        raise EvalError(f"{data}:{row.line}: 'tricky' must be true or false")
    return "tricky" if value else "ordinary"


def _groups(positive: list[bool], flagged: list[bool], keys: list[str]) -> dict[str, dict[str, Any]]:
    """Per-group rates in the report's naming (``n_jailbreak``/``recall``/``n_benign``/``false_positive_rate``)."""
    return {
        k: {
            "n_jailbreak": g["n_positive"],
            "recall": g["recall"],
            "n_benign": g["n_negative"],
            "false_positive_rate": g["false_positive_rate"],
        }
        for k, g in detection_rates_by(positive, flagged, keys).items()
    }


async def evaluate(
    config_path: str | None, data: str, *, limit: int | None = None, progress: bool = True
) -> dict[str, Any]:
    config, source, notes = load_eval_config(config_path, {"guards.jailbreak": {"enabled": True}})
    rows = load_rows(data, limit)
    items = [_item(data, r) for r in rows]
    texts = [t for _, t in items]
    positive = [_label(data, r.line, field(data, r, ("label",), (str, int, bool))) for r in rows]
    routes = await route_items(config, [i for i, _ in items], desc="jailbreak", show_progress=progress)
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
    breakdown: dict[str, dict[str, dict[str, Any]]] = {}
    for key in BREAKDOWNS:
        values = [str(r.data.get(key, "")) for r in rows]
        if any(values):
            breakdown[key] = _groups(positive, flagged, values)
    kinds_of = [_kind(data, r) for r in rows]
    if any(kinds_of):  # ordinary vs tricky benign (and the attacks, under "attack")
        breakdown["benign kind"] = _groups(
            positive, flagged, [k if not y else "attack" for k, y in zip(kinds_of, positive, strict=True)]
        )
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
        "by_source": breakdown.get("source", {}),
        "breakdown": breakdown,
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
    for key, groups in m.get("breakdown", {"source": m["by_source"]}).items():
        lines.append(f"per {key}:")
        for s, g in groups.items():
            lines.append(
                f"  {s:<28} recall {fmt(g['recall'], 4):>6} of {g['n_jailbreak']:>4}"
                f"  fpr {fmt(g['false_positive_rate'], 4):>6} of {g['n_benign']:>4}"
            )
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
    for key, groups in m.get("breakdown", {}).items():
        if key == "source":
            continue
        report.text(f"## Per {key}")
        report.table(
            [key, "attacks", "recall", "benign", "false-positive rate"],
            [[s, g["n_jailbreak"], g["recall"], g["n_benign"], g["false_positive_rate"]] for s, g in groups.items()],
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
