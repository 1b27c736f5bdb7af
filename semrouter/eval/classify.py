"""``semrouter eval classify``: does the router put requests in the category you expect?

Input lines ``{"text", "category"}`` (``true_label`` is accepted too, so
``../shared/data/domain/dev_eval.json`` works as it is). Optional row fields break the result down:
``source``, ``family`` and ``language`` give accuracy per value (with per-category accuracy inside), so a
pooled number cannot hide a weak source; ``group`` marks rewordings of one question and adds paraphrase
consistency (how often rewordings get the same category). The prediction is the category the request is
reported under (``x-vsr-selected-category``): the decision's own ``category`` when it sets one (the
built-in ``general`` decision reports ``other``), else the domain signal's label. That is the category that
picks the model, so it is what the accuracy should be about.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from semrouter.eval.common import (
    command_line,
    emit,
    field,
    header_markdown,
    load_eval_config,
    load_rows,
    route_items,
)
from semrouter.eval.metrics import accuracy_by, classification_report, group_consistency, latency_summary
from semrouter.eval.report import Report, bar_plot, confusion_heatmap

MAX_ERRORS = 50  # misrouted examples kept in the JSON (the confusion matrix has the full picture)
BREAKDOWNS = ("source", "family", "language")  # optional row fields reported one value at a time


async def evaluate(
    config_path: str | None, data: str, *, limit: int | None = None, progress: bool = True
) -> dict[str, Any]:
    config, source, notes = load_eval_config(config_path)
    rows = load_rows(data, limit)
    items, gold = [], []
    groups: list[str | None] = []
    for row in rows:
        text = field(data, row, ("text",))
        gold.append(field(data, row, ("category", "true_label", "label")))
        groups.append(str(field(data, row, ("group",), (str, int))) if "group" in row.data else None)
        item: dict[str, Any] = {"text": text}
        if "headers" in row.data:
            item["headers"] = row.data["headers"]
        items.append(item)
    routes = await route_items(config, items, desc="classify", show_progress=progress)
    pred = [str(r["category"]) if r["category"] is not None else "none" for r in routes]
    report = classification_report(gold, pred)
    errors = [
        {
            "line": row.line,
            "text": item["text"],
            "expected": g,
            "predicted": p,
            "confidence": r["category_confidence"],
            "decision": r["decision"],
        }
        for row, item, g, p, r in zip(rows, items, gold, pred, routes, strict=True)
        if g != p
    ]
    by = {
        name: accuracy_by(gold, pred, [str(row.data.get(name, "(none)")) for row in rows])
        for name in BREAKDOWNS
        if any(name in row.data for row in rows)
    }
    decisions: dict[str, int] = {}
    for r in routes:
        decisions[str(r["decision"])] = decisions.get(str(r["decision"]), 0) + 1
    return {
        "command": "classify",
        "command_line": command_line(),
        "data": str(data),
        "config": source,
        "notes": notes,
        **report,
        "macro_f1": report["macro"]["f1"],
        **{f"by_{name}": v for name, v in by.items()},
        "paraphrase_consistency": group_consistency(groups, pred),
        "decisions": decisions,
        "errors": errors[:MAX_ERRORS],
        "n_errors": len(errors),
        "latency_ms": latency_summary([float(r["latency_ms"]) for r in routes]),
    }


def summary(m: dict[str, Any]) -> str:
    lines = [f"classify: {m['n']} rows, accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}"]
    lines.append(f"{'category':<20}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for label, c in m["per_class"].items():
        lines.append(f"{label:<20}{c['precision']:>10.3f}{c['recall']:>8.3f}{c['f1']:>8.3f}{c['support']:>9}")
    for name in BREAKDOWNS:
        for key, b in m.get(f"by_{name}", {}).items():
            lines.append(f"{name} {key}: {b['n']} rows, accuracy {b['accuracy']:.4f}")
    pc = m.get("paraphrase_consistency")
    if pc:
        lines.append(
            f"paraphrase consistency: {pc['pairwise']:.4f} of {pc['pairs']} pairs agree, "
            f"{pc['all_same']:.4f} of {pc['groups']} groups all alike"
        )
    lat = m["latency_ms"]
    lines.append(f"routing latency p50 {lat['p50']} ms, p99 {lat['p99']} ms")
    return "\n".join(lines)


def render(report: Report, m: dict[str, Any]) -> None:
    report.text(header_markdown(m))
    report.text(
        f"**Accuracy {m['accuracy']:.4f}** ({m['n'] - m['n_errors']}/{m['n']}), macro F1 {m['macro']['f1']:.4f}, "
        f"weighted F1 {m['weighted']['f1']:.4f}. Routing latency per request p50 {m['latency_ms']['p50']} ms, "
        f"p99 {m['latency_ms']['p99']} ms."
    )
    report.text("## Per category")
    report.table(
        ["category", "precision", "recall", "F1", "support", "predicted"],
        [[k, c["precision"], c["recall"], c["f1"], c["support"], c["predicted"]] for k, c in m["per_class"].items()],
    )
    for name in BREAKDOWNS:
        by = m.get(f"by_{name}")
        if not by:
            continue
        report.text(f"## Per {name}")
        cats = sorted({c for b in by.values() for c in b["per_category"]})
        report.table(
            [name, "n", "accuracy", *cats],
            [
                [key, b["n"], round(b["accuracy"], 4)]
                + [round(b["per_category"][c]["accuracy"], 3) if c in b["per_category"] else "" for c in cats]
                for key, b in by.items()
            ],
        )
    pc = m.get("paraphrase_consistency")
    if pc:
        report.text(
            f"**Paraphrase consistency** {pc['pairwise']:.4f} of {pc['pairs']} within-group pairs get the same "
            f"category; {pc['all_same']:.4f} of {pc['groups']} groups agree entirely."
        )
    report.figure(
        "confusion_matrix",
        confusion_heatmap(m["labels"], m["confusion_matrix"], "Category: expected vs predicted"),
        "confusion matrix",
    )
    labels = list(m["per_class"])
    report.figure(
        "per_class_f1",
        bar_plot(
            labels,
            {k: [float(m["per_class"][c][k]) for c in labels] for k in ("precision", "recall", "f1")},
            "Per-category precision / recall / F1",
            "score",
            (0, 1.1),
            annotate=False,
        ),
        "per-category scores",
    )
    if m["errors"]:
        report.text(f"## Misrouted ({m['n_errors']}; first {len(m['errors'])})")
        report.table(
            ["line", "text", "expected", "predicted", "confidence"],
            [[e["line"], e["text"][:90], e["expected"], e["predicted"], e["confidence"]] for e in m["errors"]],
        )


def run(args: argparse.Namespace) -> int:
    metrics = asyncio.run(evaluate(args.config, args.data, limit=args.limit, progress=not args.no_progress))
    return emit(args, metrics, summary, render, "Classification evaluation")
