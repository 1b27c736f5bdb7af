"""``semrouter eval pii``: how much personal data the PII guard catches, and how often it cries wolf.

Input lines ``{"text", "entities": [{"type", "value"}]}``; an empty ``entities`` list marks a benign prompt.
The guard runs inside the real pipeline (what a live request gets: the configured types, ``min_score``,
NER on or off), and its findings are read from the ``pii`` signal, which carries types and positions only.

* **prompt-level recall**: prompts with labelled PII where the guard found anything (what a block policy
  needs); **false-positive rate**: benign prompts where it found anything;
* **per-type recall**: labelled values overlapped by a finding *of the same type* (what masking needs);
  ``entity_recall`` is the same over all values;
* **found types**: what was flagged, per type, in PII prompts at positions no label covers and in benign
  prompts (the false positives a block policy would turn into refused requests);
* **breakdowns**: when rows carry ``language``, ``source`` or ``family``, the same prompt recall, per-type
  entity recall and false-positive rate per value of each field: a pooled figure hides a language the
  rules do not cover (issue 16: English prompts caught, Spanish and Portuguese ones missed).

Definitions match :func:`semrouter.guards.pii.evaluate`, so the figures agree with the detector's own gate.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from typing import Any

from semrouter.eval.common import (
    EvalError,
    Row,
    command_line,
    emit,
    field,
    header_markdown,
    load_eval_config,
    load_rows,
    route_items,
)
from semrouter.eval.metrics import binary_rates, latency_summary, ratio
from semrouter.eval.report import Report, bar_plot, fmt


def _entities(data: str, row: Row) -> list[tuple[str, str]]:
    raw = field(data, row, ("entities",), list)
    out = []
    for e in raw:
        if not isinstance(e, dict) or not isinstance(e.get("type"), str) or not isinstance(e.get("value"), str):
            raise EvalError(f"{data}:{row.line}: each entity needs a string 'type' and 'value'")
        out.append((e["type"], e["value"]))
    return out


GROUP_FIELDS = ("language", "source", "family")


def _group_rates(positive: list[bool], flagged: list[bool], hits: list[list[tuple[str, bool]]]) -> dict[str, Any]:
    """Prompt recall, false-positive rate and per-type entity recall of one slice of the rows."""
    rates = binary_rates(positive, flagged)
    per_type: dict[str, list[bool]] = {}
    for row_hits in hits:
        for etype, ok in row_hits:
            per_type.setdefault(etype, []).append(ok)
    pooled = [h for v in per_type.values() for h in v]
    return {
        "n_with_pii": sum(positive),
        "n_benign": len(positive) - sum(positive),
        "recall": rates["recall"],
        "false_positive_rate": rates["false_positive_rate"],
        "entity_recall": ratio(sum(pooled), len(pooled)),
        "per_type": {t: {"labelled": len(v), "recall": ratio(sum(v), len(v))} for t, v in sorted(per_type.items())},
    }


def _spans(text: str, value: str) -> list[tuple[int, int]]:
    """Every occurrence of a labelled value (a label names a value, not a position)."""
    spans, start = [], text.find(value)
    while start >= 0 and value:
        spans.append((start, start + len(value)))
        start = text.find(value, start + 1)
    return spans


async def evaluate(
    config_path: str | None, data: str, *, limit: int | None = None, progress: bool = True
) -> dict[str, Any]:
    config, source, notes = load_eval_config(config_path, {"guards.pii": {"enabled": True}})
    rows = load_rows(data, limit)
    texts = [field(data, r, ("text",)) for r in rows]
    labels = [_entities(data, r) for r in rows]
    for row, text, ents in zip(rows, texts, labels, strict=True):
        for _, value in ents:
            if value not in text:
                raise EvalError(f"{data}:{row.line}: entity value {value!r} does not occur in the text")
    unknown = sorted({t for ents in labels for t, _ in ents} - set(config.guards.pii.types))
    if unknown:
        notes.append(f"labelled types the guard is not configured to detect: {', '.join(unknown)}")
    routes = await route_items(config, [{"text": t} for t in texts], desc="pii", show_progress=progress)
    found_all = [r["pii"]["entities"] for r in routes]
    positive = [bool(e) for e in labels]
    flagged = [bool(f) for f in found_all]
    rates = binary_rates(positive, flagged)
    per_type: dict[str, list[bool]] = {}
    unlabelled: Counter[str] = Counter()  # findings no label covers, in PII prompts
    benign_types: Counter[str] = Counter()
    missed, false_pos = [], []
    row_hits: list[list[tuple[str, bool]]] = []
    for row, text, ents, found in zip(rows, texts, labels, found_all, strict=True):
        row_hits.append([])
        if not ents:
            if found:
                benign_types.update(f["type"] for f in found)
                false_pos.append({"line": row.line, "text": text[:200], "found": [f["type"] for f in found]})
            continue
        covered = set()
        for etype, value in ents:
            ok = False
            for start, end in _spans(text, value):
                for k, f in enumerate(found):
                    if f["start"] < end and f["end"] > start:
                        covered.add(k)
                        ok = ok or f["type"] == etype
            per_type.setdefault(etype, []).append(ok)
            row_hits[-1].append((etype, ok))
            if not ok:
                missed.append({"line": row.line, "type": etype, "value_chars": len(value)})
        unlabelled.update(f["type"] for k, f in enumerate(found) if k not in covered)
    all_hits = [h for v in per_type.values() for h in v]
    breakdown: dict[str, dict[str, Any]] = {}
    for name in GROUP_FIELDS:
        values = [r.data.get(name) for r in rows]
        if all(v is None for v in values):
            continue
        groups: dict[str, list[int]] = {}
        for i, v in enumerate(values):
            groups.setdefault(str(v) if v is not None else "(none)", []).append(i)
        breakdown[name] = {
            g: _group_rates([positive[i] for i in idx], [flagged[i] for i in idx], [row_hits[i] for i in idx])
            for g, idx in sorted(groups.items())
        }
    return {
        "command": "pii",
        "command_line": command_line(),
        "data": str(data),
        "config": source,
        "notes": notes,
        "n": len(rows),
        "n_with_pii": sum(positive),
        "n_benign": len(positive) - sum(positive),
        "min_score": config.guards.pii.min_score,
        "ner": config.guards.pii.ner,
        **rates,
        "entity_recall": ratio(sum(all_hits), len(all_hits)),
        "per_type": {
            t: {"labelled": len(v), "found": sum(v), "recall": ratio(sum(v), len(v))}
            for t, v in sorted(per_type.items())
        },
        "breakdown": breakdown,
        "unlabelled_findings": dict(unlabelled),
        "benign_findings": dict(benign_types),
        "missed": missed[:50],
        "false_positives": false_pos[:50],
        "latency_ms": latency_summary([float(r["latency_ms"]) for r in routes]),
    }


def summary(m: dict[str, Any]) -> str:
    lines = [
        f"pii: {m['n_with_pii']} prompts with PII, {m['n_benign']} benign (min_score {m['min_score']}, NER {m['ner']})",
        f"prompt recall {m['recall']:.4f}  false-positive rate {m['false_positive_rate']:.4f}  "
        f"entity recall {m['entity_recall']:.4f}",
    ]
    for t, v in m["per_type"].items():
        lines.append(f"  {t:<20} {v['found']:>5}/{v['labelled']:<5} recall {v['recall']:.3f}")
    for name, groups in m.get("breakdown", {}).items():
        lines.append(f"by {name}:")
        for g, v in groups.items():
            types = " ".join(f"{t}:{x['recall']:.2f}" for t, x in v["per_type"].items())
            lines.append(
                f"  {g:<14} PII {v['n_with_pii']:>4} recall {v['recall']:.3f}  benign {v['n_benign']:>4} "
                f"FPR {v['false_positive_rate']:.3f}  entity {v['entity_recall']:.3f}  {types}"
            )
    if m["benign_findings"]:
        lines.append(f"flagged in benign prompts: {m['benign_findings']}")
    return "\n".join(lines)


def render(report: Report, m: dict[str, Any]) -> None:
    report.text(header_markdown(m))
    report.text(
        f"Guard settings: min_score {m['min_score']}, NER {'on' if m['ner'] else 'off'}. "
        f"**Prompt-level recall {m['recall']:.4f}** ({m['tp']}/{m['n_with_pii']}), "
        f"**false-positive rate {m['false_positive_rate']:.4f}** ({m['fp']}/{m['n_benign']} benign prompts flagged), "
        f"entity recall (same type, overlapping) {m['entity_recall']:.4f}. "
        f"Routing latency with the guard p50 {m['latency_ms']['p50']} ms, p99 {m['latency_ms']['p99']} ms."
    )
    report.text("## Per type")
    report.table(
        ["type", "labelled values", "found", "recall"],
        [[t, v["labelled"], v["found"], v["recall"]] for t, v in m["per_type"].items()],
    )
    for name, groups in m.get("breakdown", {}).items():
        report.text(f"## By {name}")
        report.table(
            [name, "PII prompts", "prompt recall", "benign", "false-positive rate", "entity recall"],
            [
                [g, v["n_with_pii"], v["recall"], v["n_benign"], v["false_positive_rate"], v["entity_recall"]]
                for g, v in groups.items()
            ],
        )
        all_types = sorted({t for v in groups.values() for t in v["per_type"]})
        report.table(
            ["type", *groups],
            [[t, *(groups[g]["per_type"].get(t, {}).get("recall", "") for g in groups)] for t in all_types],
        )
    types = list(m["per_type"])
    if types:
        report.figure(
            "per_type_recall",
            bar_plot(
                types,
                {"recall": [m["per_type"][t]["recall"] for t in types]},
                "Recall per PII type",
                "recall",
                (0, 1.1),
            ),
            "per-type recall",
        )
    report.figure(
        "prompt_level",
        bar_plot(
            ["recall (PII prompts flagged)", "false-positive rate (benign flagged)"],
            {"rate": [m["recall"], m["false_positive_rate"]]},
            "Prompt level",
            "share of prompts",
            (0, 1.1),
        ),
        "prompt-level recall and false-positive rate",
    )
    if m["benign_findings"]:
        report.text("## Findings in benign prompts, by type")
        report.table(["type", "count"], sorted(m["benign_findings"].items(), key=lambda kv: -kv[1]))
    if m["false_positives"]:
        report.text("## False positives (first 50)")
        report.table(
            ["line", "found", "text"],
            [[e["line"], ", ".join(e["found"]), fmt(e["text"][:90])] for e in m["false_positives"]],
        )


def run(args: argparse.Namespace) -> int:
    metrics = asyncio.run(evaluate(args.config, args.data, limit=args.limit, progress=not args.no_progress))
    return emit(args, metrics, summary, render, "PII guard evaluation")
