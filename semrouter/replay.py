"""``semrouter replay``: re-decide logged traffic under a new config and report what would change.

Why: a router that cannot replay its own traffic under a new policy asks its operators to change production
blind. The decision log (``observability.decision_log.jsonl_path``) already records, per request, the
decision, model, signals, token usage, cost and how it ended; replay re-decides each routed request under
``--config`` and compares.

Two ways to re-decide, per record:

* **prompt** (exact): the request's text or messages come from ``--requests``, a JSONL keyed by
  ``request_id`` the operator keeps apart from the log (the log never holds whole prompts: with
  ``redact_prompts: false`` it keeps only a short prefix, and only of prompts the PII guard found clean,
  which is not enough to re-run signals). The whole pipeline runs as a dry run (``semrouter route``): new
  signals, guards and selectors included.
* **signals** (no prompt): the decision rules are evaluated on the signal results the log kept (matched,
  confidence, and the value of router-computed signals), then the selector picks the model. Signals the
  new config adds, and values the log never keeps (header and metadata signals), are absent; a selector
  that reads the request (learned) cannot run, so those records are reported as not replayable.

Requests that named a model themselves (not routed) keep it. Cost under the new policy is estimated from
each record's logged token usage and the new config's pricing (a new cascade: its first model's cost as the
low bound, plus its last model's as the high bound, since escalation depends on answers not seen yet).

Quality, where outcomes exist:

* ``<model>_correct`` labels in ``--requests`` (as in RouteLLM's outcome files) give every labelled model's
  outcome: the new policy's accuracy on the rows labelled for both models is exact, not estimated.
* Feedback logged with a decision (``feedback`` or ``outcome`` fields: a rating in -1..1, a 0..1 score, or
  ``good``/``bad``) is known for the model that answered only. Two estimators: the **overlap** (replay)
  estimator, the mean reward on records where the new policy picks the logged model (unbiased only if the
  new policy's changes are unrelated to the outcome), and the **direct method**: the mean logged reward per
  (model, category), falling back to per model, applied to the new choice. Both say how much of the traffic
  they cover; a model the log never sent traffic to cannot be estimated by either.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from semrouter.config.schema import RouterConfig
from semrouter.errors import RouterError

_FEEDBACK_KEYS = ("feedback", "outcome")


@dataclass
class Row:
    """One logged request and what the new config decides for it."""

    request_id: str | None
    old_decision: str | None
    old_model: str | None
    category: str | None
    tokens_in: int | None
    tokens_out: int | None
    old_cost: float | None
    mode: str = "signals"  # prompt | signals | kept (not routed) | skipped (why in note)
    new_decision: str | None = None
    new_model: str | None = None
    new_cascade: list[str] | None = None
    new_cost: float | None = None
    new_cost_max: float | None = None
    blocked: bool = False
    note: str | None = None
    reward: float | None = None  # logged feedback of the old model's answer, in 0..1
    labels: dict[str, float] = field(default_factory=dict)  # model -> 1/0 from <model>_correct

    @property
    def changed(self) -> bool:
        return self.mode in ("prompt", "signals") and (
            self.new_model != self.old_model or self.new_decision != self.old_decision
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "mode": self.mode,
            "old": {"decision": self.old_decision, "model": self.old_model, "cost": self.old_cost},
            "new": {
                "decision": self.new_decision,
                "model": self.new_model,
                "cascade": self.new_cascade,
                "cost": _round(self.new_cost),
                "cost_max": _round(self.new_cost_max),
                "blocked": self.blocked,
            },
            "changed": self.changed,
            "category": self.category,
            "tokens": {"input": self.tokens_in, "output": self.tokens_out},
            "reward": self.reward,
            "note": self.note,
        }


def _round(x: float | None) -> float | None:
    return round(x, 8) if x is not None else None


def parse_reward(value: Any) -> float | None:
    """A logged outcome as a reward in 0..1: a rating -1..1, a 1..5 star score, a 0..1 score, good/bad."""
    if isinstance(value, dict):
        for key in ("reward", "score", "rating", "label"):
            if key in value:
                return parse_reward(value[key])
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return {"good": 1.0, "bad": 0.0, "positive": 1.0, "negative": 0.0}.get(value.lower())
    if isinstance(value, (int, float)):
        v = float(value)
        if -1 <= v < 0:
            return (v + 1) / 2
        if 0 <= v <= 1:
            return v
        if 1 < v <= 5:
            return (v - 1) / 4
    return None


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; a line that is not one is an error naming the line."""
    out: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object")
            out.append(obj)
    return out


def _price(config: RouterConfig, model: str | None, tin: int | None, tout: int | None) -> float | None:
    m = config.model(model) if model else None
    if m is None or (tin is None and tout is None):
        return None
    return ((tin or 0) * m.pricing.prompt_per_1m + (tout or 0) * m.pricing.completion_per_1m) / 1e6


def _row(record: dict[str, Any]) -> Row:
    tokens = record.get("tokens") or {}
    reward = None
    for key in _FEEDBACK_KEYS:
        if record.get(key) is not None:
            reward = parse_reward(record[key])
            break
    return Row(
        request_id=record.get("request_id"),
        old_decision=record.get("decision"),
        old_model=record.get("model"),
        category=record.get("category"),
        tokens_in=tokens.get("input") if isinstance(tokens.get("input"), int) else None,
        tokens_out=tokens.get("output") if isinstance(tokens.get("output"), int) else None,
        old_cost=record.get("cost"),
        reward=reward,
    )


class Replayer:
    """Re-decides records under one config: by prompt through the dry-run pipeline, or by logged signals."""

    def __init__(self, config: RouterConfig) -> None:
        from semrouter.stages.decision import DecisionStage

        self.config = config
        self.decide = DecisionStage(config)
        self._pipeline: Any = None
        self.missing_signals: set[str] = set()

    async def by_prompt(self, row: Row, item: dict[str, Any]) -> None:
        from semrouter.dryrun import route_request
        from semrouter.stages import build_pipeline

        if self._pipeline is None:
            self._pipeline = build_pipeline(self.config)
        request = {k: item[k] for k in ("text", "messages", "headers", "tools", "user", "metadata") if k in item}
        route = await route_request(self.config, self._pipeline, request)
        row.mode = "prompt"
        row.new_decision, row.new_model, row.blocked = route["decision"], route["model"], route["blocked"]
        row.category = route["category"] or row.category
        if row.blocked:
            row.note = f"blocked: {route['block_reason']}"

    def by_signals(self, row: Row, record: dict[str, Any]) -> None:
        from semrouter.context import ApiKind, RequestContext
        from semrouter.decide.registry import SELECTORS
        from semrouter.signals.result import SignalResult

        ctx = RequestContext(ApiKind.CHAT, b"{}", {}, self.config, request_id=row.request_id)
        logged = record.get("signals") or {}
        for name, entry in logged.items():
            if isinstance(entry, dict):
                ctx.signals[name] = SignalResult(
                    matched=bool(entry.get("matched")),
                    confidence=float(entry.get("confidence") or 0.0),
                    value=entry.get("value"),
                )
        self.missing_signals.update(s.name for s in self.config.signals if s.name not in logged)
        decision, _ = self.decide.choose(ctx)
        cfg = decision.selection or self.config.routing.selection
        selector = SELECTORS[cfg.algorithm](cfg)
        row.mode = "signals"
        row.new_decision = decision.name
        if getattr(selector, "select_request", None) is not None:
            row.mode, row.note = "skipped", f"selector '{cfg.algorithm}' reads the request: needs --requests"
            return
        row.new_model, _ = selector.select(decision, self.config)

    def price(self, row: Row) -> None:
        """The new choice's estimated cost from the logged token usage (a cascade: its bounds)."""
        if row.new_model is None:
            return
        decision = self.config.decision(row.new_decision) if row.new_decision else None
        if decision is not None and decision.cascade is not None and row.mode in ("prompt", "signals"):
            from semrouter.upstream.cascade import cascade_models

            models = cascade_models(decision, self.config)
            if row.new_model in models:
                row.new_cascade = models
                row.new_model = models[0]
                low = _price(self.config, models[0], row.tokens_in, row.tokens_out)
                high = _price(self.config, models[-1], row.tokens_in, row.tokens_out)
                row.new_cost = low
                row.new_cost_max = low + high if low is not None and high is not None else None
                return
        row.new_cost = row.new_cost_max = _price(self.config, row.new_model, row.tokens_in, row.tokens_out)


async def replay(
    config: RouterConfig,
    records: list[dict[str, Any]],
    requests: dict[str, dict[str, Any]] | None = None,
    *,
    progress: bool = False,
) -> list[Row]:
    """Re-decide every record; rows keep the log's order."""
    from semrouter.dryrun import _progress

    replayer = Replayer(config)
    bar = _progress(len(records), progress)
    rows: list[Row] = []
    try:
        for record in records:
            row = _row(record)
            item = (requests or {}).get(row.request_id or "")
            if item is not None:
                row.labels = {k[: -len("_correct")]: float(bool(v)) for k, v in item.items() if k.endswith("_correct")}
            if record.get("path") == "blocked" and item is None:
                row.mode, row.note = "skipped", "blocked by a guard; guards re-run only with --requests"
            elif not record.get("routed"):
                row.mode, row.new_decision, row.new_model = "kept", row.old_decision, row.old_model
                row.note = "the client named the model"
            elif item is not None:
                try:
                    await replayer.by_prompt(row, item)
                except RouterError as err:
                    row.mode, row.note = "skipped", f"request not routable: {err.code or err.type}"
            else:
                replayer.by_signals(row, record)
            if row.mode != "skipped" and not row.blocked:
                replayer.price(row)
            rows.append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if replayer.missing_signals:
        print(
            f"note: signals of the new config not in the log, absent when re-deciding without a prompt: "
            f"{sorted(replayer.missing_signals)}",
            file=sys.stderr,
        )
    return rows


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def quality(rows: list[Row]) -> dict[str, Any]:
    """Quality of the logged and the new policy, by each estimator the data allows (see the module doc)."""
    out: dict[str, Any] = {}
    both = [r for r in rows if r.old_model in r.labels and r.new_model in r.labels]
    if both:
        out["labels"] = {
            "estimator": "exact on rows labelled for both the logged and the new model",
            "rows": len(both),
            "coverage": round(len(both) / len(rows), 4),
            "old": _mean([r.labels[r.old_model or ""] for r in both]),
            "new": _mean([r.labels[r.new_model or ""] for r in both]),
        }
    fed = [r for r in rows if r.reward is not None and r.mode in ("prompt", "signals", "kept")]
    if fed:
        same = [r for r in fed if r.new_model == r.old_model]
        cell: dict[tuple[str | None, str | None], list[float]] = defaultdict(list)
        per_model: dict[str | None, list[float]] = defaultdict(list)
        for r in fed:
            assert r.reward is not None
            cell[(r.old_model, r.category)].append(r.reward)
            per_model[r.old_model].append(r.reward)
        dm: list[float] = []
        for r in fed:
            hit = cell.get((r.new_model, r.category)) or per_model.get(r.new_model)
            if hit:
                dm.append(sum(hit) / len(hit))
        out["feedback"] = {
            "rows": len(fed),
            "coverage_of_traffic": round(len(fed) / len(rows), 4),
            "old": _mean([r.reward for r in fed if r.reward is not None]),
            "overlap": {
                "estimator": "mean logged reward where the new policy keeps the logged model (replay method)",
                "new": _mean([r.reward for r in same if r.reward is not None]),
                "coverage": round(len(same) / len(fed), 4),
            },
            "direct_method": {
                "estimator": "mean logged reward of the new model per (model, category), else per model",
                "new": _mean(dm),
                "coverage": round(len(dm) / len(fed), 4),
            },
        }
    return out


def summarize(rows: list[Row]) -> dict[str, Any]:
    modes = Counter(r.mode for r in rows)
    replayed = [r for r in rows if r.mode in ("prompt", "signals")]
    moves = Counter(f"{r.old_model} -> {r.new_model}" for r in replayed if r.new_model != r.old_model)
    dmoves = Counter(f"{r.old_decision} -> {r.new_decision}" for r in replayed if r.new_decision != r.old_decision)
    old_models = Counter(r.old_model or "none" for r in rows if r.mode != "skipped")
    new_models = Counter(r.new_model or "none" for r in rows if r.mode != "skipped")
    priced = [r for r in rows if r.old_cost is not None and r.new_cost is not None]
    per_decision: dict[str, dict[str, Any]] = {}
    for r in replayed:
        d = per_decision.setdefault(str(r.old_decision), {"requests": 0, "changed": 0, "to": Counter()})
        d["requests"] += 1
        d["changed"] += int(r.changed)
        d["to"][f"{r.new_decision}/{r.new_model}"] += 1
    return {
        "records": len(rows),
        "modes": dict(modes),
        "changed": sum(r.changed for r in rows),
        "changed_share": round(sum(r.changed for r in rows) / len(replayed), 4) if replayed else None,
        "blocked_now": sum(r.blocked for r in rows),
        "model_moves": dict(moves.most_common()),
        "decision_moves": dict(dmoves.most_common()),
        "per_decision": {k: {**v, "to": dict(v["to"])} for k, v in per_decision.items()},
        "per_model": {
            m: {"old": old_models.get(m, 0), "new": new_models.get(m, 0)} for m in sorted({*old_models, *new_models})
        },
        "cost": {
            "rows_priced": len(priced),
            "old": _round(sum(r.old_cost or 0.0 for r in priced)),
            "new": _round(sum(r.new_cost or 0.0 for r in priced)),
            "new_max": _round(sum((r.new_cost_max or r.new_cost or 0.0) for r in priced)),
            "note": "old: the logged cost (dropped cascade answers included); new: logged tokens x new pricing",
        },
        "cascade_rows": sum(1 for r in rows if r.new_cascade),
        "quality": quality(rows),
        "skipped": dict(Counter(r.note for r in rows if r.mode == "skipped")),
    }


def format_text(summary: dict[str, Any]) -> str:
    s = summary
    lines = [
        f"{s['records']} logged requests: " + ", ".join(f"{n} {m}" for m, n in sorted(s["modes"].items())),
        f"would change: {s['changed']} ({(s['changed_share'] or 0) * 100:.1f}% of those re-decided);"
        f" newly blocked: {s['blocked_now']}",
        "per model (requests, logged -> new):",
    ]
    lines += [f"  {m:<24} {v['old']:>6} -> {v['new']}" for m, v in s["per_model"].items()]
    if s["model_moves"]:
        lines.append("moves: " + "; ".join(f"{k}: {v}" for k, v in s["model_moves"].items()))
    if s["decision_moves"]:
        lines.append("decision moves: " + "; ".join(f"{k}: {v}" for k, v in s["decision_moves"].items()))
    c = s["cost"]
    if c["rows_priced"]:
        extra = f" (with cascade escalations at most {c['new_max']:.6f})" if s["cascade_rows"] else ""
        lines.append(f"estimated cost on {c['rows_priced']} priced rows: {c['old']:.6f} -> {c['new']:.6f}{extra}")
    q = s["quality"]
    if "labels" in q:
        lab = q["labels"]
        lines.append(f"accuracy on {lab['rows']} labelled rows (exact): {lab['old']} -> {lab['new']}")
    if "feedback" in q:
        fb = q["feedback"]
        lines.append(
            f"feedback on {fb['rows']} rows: logged {fb['old']}; new policy: overlap {fb['overlap']['new']}"
            f" (covers {fb['overlap']['coverage'] * 100:.0f}%), direct method {fb['direct_method']['new']}"
            f" (covers {fb['direct_method']['coverage'] * 100:.0f}%)"
        )
    if not q:
        lines.append("quality: no outcomes in the log or --requests (feedback, <model>_correct): not estimated")
    for note, n in s["skipped"].items():
        lines.append(f"not replayed: {n} ({note})")
    return "\n".join(lines)


def write_report(directory: Path, rows: list[Row], summary: dict[str, Any]) -> list[Path]:
    """rows.jsonl, summary.json, summary.txt and, when matplotlib is installed, models.png."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "rows.jsonl", directory / "summary.json", directory / "summary.txt"]
    written[0].write_bytes(b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in rows))
    written[1].write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    written[2].write_text(format_text(summary) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    models = list(summary["per_model"])
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(models) + 2), 3.2))
    xs = range(len(models))
    ax.bar([x - 0.2 for x in xs], [summary["per_model"][m]["old"] for m in models], 0.4, label="logged")
    ax.bar([x + 0.2 for x in xs], [summary["per_model"][m]["new"] for m in models], 0.4, label="new config")
    ax.set_xticks(list(xs), models, rotation=20)
    ax.set_ylabel("requests")
    ax.set_title(f"replay: {summary['changed']} of {summary['records']} requests change")
    ax.legend()
    fig.tight_layout()
    png = directory / "models.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return [*written, png]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log", required=True, help="decision-log JSONL (observability.decision_log.jsonl_path)")
    p.add_argument("--config", "-c", required=True, help="the new config to replay under")
    p.add_argument(
        "--requests",
        help="JSONL of {request_id, text|messages, optional <model>_correct}: re-decide by prompt, score by label",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    p.add_argument("--report", help="directory for rows.jsonl, summary.json, summary.txt and models.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run_cli(args: argparse.Namespace) -> int:
    from semrouter.config.loader import load_config

    config = load_config(args.config)
    try:
        records = read_jsonl(args.log)
        requests = None
        if args.requests:
            requests = {str(r["request_id"]): r for r in read_jsonl(args.requests) if "request_id" in r}
    except (OSError, ValueError) as exc:
        print(f"semrouter replay: {exc}", file=sys.stderr)
        return 2
    rows = asyncio.run(replay(config, records, requests, progress=not args.no_progress))
    summary = summarize(rows)
    if args.report:
        for path in write_report(Path(args.report), rows, summary):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_text(summary))
    return 0
