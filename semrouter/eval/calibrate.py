"""``semrouter calibrate``: choose a judgment's threshold on your own labelled data, for a stated target.

A shipped threshold was chosen on the project's data for the project's target (1% false positives on a
validation split); a deployment's traffic and tolerance differ. This command routes every labelled row
through the real pipeline once, with the threshold out of the way, reads the score the judgment gave it,
sweeps every threshold the scores allow, and picks the one that meets the target best:

* ``fpr=X``: the lowest threshold whose false-positive rate is at most X (the most recall for that cost);
* ``precision=X``: the lowest threshold whose precision is at least X;
* ``recall=X``: the highest threshold whose recall is at least X (the fewest false alarms for that recall).

For ``domain`` a "positive" is a row the head gets right: below the threshold a prompt falls back to the
fallback category, so precision is the accuracy of the categories it commits to, recall the share of
rows it commits to correctly, and the false-positive rate the share it commits to wrongly.

It writes the config with that threshold set (``--output``), and the curve it chose from (``--report``:
report.md, metrics.json, curve.png). Calibrate on data like your traffic, and check the result on data
you did not calibrate on: a threshold tuned on the set that measures it overstates how well it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
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
    section,
    shown_paths,
)
from semrouter.eval.metrics import ratio
from semrouter.eval.report import Report, fmt, line_plot
from semrouter.guards.config import HARM_CATEGORIES

POSITIVE = {
    "pii": True,
    "jailbreak": True,
    "attack": True,
    "injection": True,
    "malicious": True,
    "harmful": True,
    "unsafe": True,
}
NEGATIVE = {"benign": False, "safe": False}
TARGETS = ("fpr", "precision", "recall")


@dataclass(frozen=True)
class Judgment:
    """How one judgment is scored from a dry-run route and where its threshold lives in the config."""

    name: str
    enable: dict[str, Any]  # config sections switched on for scoring (reported as notes)
    force: dict[str, Any]  # settings that keep the threshold out of the way while scoring
    lo: float  # the config's bounds for the threshold (some are exclusive: clamp inside them)
    hi: float
    score: Callable[[dict[str, Any]], float]
    write: Callable[[dict[str, Any], float, str | None], str]  # sets it in a raw config; returns where


def _setter(dotted: str) -> Callable[[dict[str, Any], float, str | None], str]:
    parent, _, key = dotted.rpartition(".")

    def write(raw: dict[str, Any], value: float, _signal: str | None) -> str:
        section(raw, parent)[key] = value
        return dotted

    return write


ALLOW_ALL = dict.fromkeys(HARM_CATEGORIES, "allow")  # scoring must not route or block


def _write_harmful(raw: dict[str, Any], value: float, _signal: str | None) -> str:
    """One threshold for every category; per-category ``thresholds`` would shadow it, so they go."""
    harmful = section(raw, "guards.harmful")
    harmful["threshold"] = value
    dropped = harmful.pop("thresholds", None)
    return "guards.harmful.threshold" + (" (per-category thresholds removed)" if dropped else "")


def _write_domain(raw: dict[str, Any], value: float, signal: str | None) -> str:
    for i, s in enumerate(raw.get("signals") or []):
        if isinstance(s, dict) and s.get("type") == "domain" and (signal is None or s.get("name") == signal):
            s["threshold"] = value
            return f"signals[{i}] ({s.get('name')}).threshold"
    raise EvalError(f"the config has no domain signal{f' named {signal!r}' if signal else ''}")


def _signal_score(name: str) -> Callable[[dict[str, Any]], float]:
    def score(route: dict[str, Any]) -> float:
        sig = route["signals"].get(name)
        return float(sig["confidence"]) if sig is not None else 0.0  # a guard that failed open flagged nothing

    return score


JUDGMENTS: dict[str, Judgment] = {
    "jailbreak": Judgment(
        "jailbreak",
        {"guards.jailbreak": {"enabled": True}},
        {"guards.jailbreak.threshold": 0.999999, "guards.jailbreak.action": "flag"},
        1e-6,
        1 - 1e-6,
        _signal_score("jailbreak"),
        _setter("guards.jailbreak.threshold"),
    ),
    "pii": Judgment(
        "pii",
        {"guards.pii": {"enabled": True}},
        {"guards.pii.min_score": 0.0, "guards.pii.action": "allow"},
        0.0,
        1.0,
        _signal_score("pii"),  # the best finding's score: a prompt is flagged when any finding reaches it
        _setter("guards.pii.min_score"),
    ),
    "harmful": Judgment(
        "harmful",
        {"guards.harmful": {"enabled": True}},
        {"guards.harmful.threshold": 0.999999, "guards.harmful.thresholds": {}, "guards.harmful.actions": ALLOW_ALL},
        1e-6,
        1 - 1e-6,
        _signal_score("harmful"),  # the top category's score: one threshold for every category
        _write_harmful,
    ),
    "domain": Judgment("domain", {}, {}, 0.0, 1.0, _signal_score("domain"), _write_domain),  # scored by --signal
}


def parse_target(text: str) -> tuple[str, float]:
    kind, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not sep or kind not in TARGETS or not 0 <= number <= 1:
        raise EvalError(
            f"--target must be one of {', '.join(t + '=X' for t in TARGETS)} with X in [0, 1], not {text!r}"
        )
    return kind, number


def _label(data: str, line: int, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in POSITIVE | NEGATIVE:
        return (POSITIVE | NEGATIVE)[value.lower()]
    known = ", ".join(sorted(POSITIVE | NEGATIVE))
    raise EvalError(f"{data}:{line}: label must be one of {known} (or true/false), not {value!r}")


def curve(scores: list[float], positive: list[bool]) -> list[dict[str, float]]:
    """Precision, recall, false-positive rate and flagged share for a threshold at every distinct score
    (a row is flagged when its score is at least the threshold), plus one above them all.

    One sort and cumulative counts: O(n log n), so a 100k-row calibration file is a second, not an hour.
    """
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp, fp = np.cumsum(y), np.cumsum(~y)
    last = np.r_[s[1:] != s[:-1], True]  # flagging at threshold s[i] flags every row up to the last tie
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    points = [{"threshold": float("inf"), "precision": 1.0, "recall": 0.0, "fpr": 0.0, "flagged": 0.0}]
    for i in np.flatnonzero(last):
        t, f = int(tp[i]), int(fp[i])
        points.append(
            {
                "threshold": float(s[i]),
                "precision": ratio(t, t + f),
                "recall": ratio(t, n_pos),
                "fpr": ratio(f, n_neg),
                "flagged": ratio(t + f, len(s)),
            }
        )
    return points[::-1]


def choose(points: list[dict[str, float]], target: str, value: float) -> dict[str, float]:
    if target == "fpr":
        ok = [p for p in points if p["fpr"] <= value]
        best = min(ok, key=lambda p: p["threshold"], default=None)
    elif target == "precision":
        ok = [p for p in points if p["precision"] >= value and p["flagged"] > 0]
        best = min(ok, key=lambda p: p["threshold"], default=None)
    else:
        ok = [p for p in points if p["recall"] >= value]
        best = max(ok, key=lambda p: p["threshold"], default=None)
    if best is None:
        reach = max(p[target] for p in points) if target != "fpr" else min(p["fpr"] for p in points)
        raise EvalError(f"no threshold reaches {target}={value} on this data (best possible: {reach:.4f})")
    return best


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    judgment = JUDGMENTS[args.judgment]
    target, value = parse_target(args.target)
    config, source, notes = load_eval_config(args.config, judgment.enable, judgment.force)
    rows = load_rows(args.data, args.limit)
    texts = [field(args.data, r, ("text", "prompt")) for r in rows]
    routes = await route_items(
        config, [{"text": t} for t in texts], desc="calibrate", show_progress=not args.no_progress
    )
    scores = [judgment.score(r) for r in routes]
    if judgment.name == "domain":
        gold = [field(args.data, r, ("category", "true_label", "label")) for r in rows]
        name = _domain_signal(config, args.signal)
        scores = [float(r["signals"].get(name, {}).get("confidence", 0.0)) for r in routes]
        top = [_top_label(r, name) for r in routes]
        positive = [g == t for g, t in zip(gold, top, strict=True)]
    else:
        positive = [
            bool(r.data["entities"])  # the `eval pii` format: a prompt with labelled entities is positive
            if "entities" in r.data
            else _label(args.data, r.line, field(args.data, r, ("label",), (str, int, bool)))
            for r in rows
        ]
        if all(positive) or not any(positive):
            raise EvalError(f"{args.data}: calibrating needs both positive and benign rows")
    points = curve(scores, positive)
    best = choose(points, target, value)
    threshold = min(max(best["threshold"], judgment.lo), judgment.hi)
    written = None
    if args.output:
        written = _write(args.config, args.output, judgment, threshold, args.signal)
    return {
        "command": "calibrate",
        "command_line": command_line(),
        "data": str(args.data),
        "config": source,
        "notes": notes,
        "judgment": judgment.name,
        "target": {target: value},
        "n": len(rows),
        "n_positive": sum(positive),
        "threshold": round(threshold, 6),
        "at_threshold": {k: round(v, 4) for k, v in best.items() if k != "threshold"},
        "written": written,
        "curve": [{k: round(v, 6) for k, v in p.items()} for p in points if p["threshold"] != float("inf")],
    }


def _top_label(route: dict[str, Any], signal: str) -> str | None:
    """The head's first choice, whatever the threshold made of it (the category may be the fallback)."""
    top = route["signals"].get(signal, {}).get("detail", {}).get("top") or [[None]]
    return top[0][0]  # type: ignore[no-any-return]


def _domain_signal(config: Any, name: str | None) -> str:
    for s in config.signals:
        if s.type == "domain" and (name is None or s.name == name):
            return str(s.name)
    raise EvalError(f"the config has no domain signal{f' named {name!r}' if name else ''}")


def _write(config_path: str | None, output: str, judgment: Judgment, threshold: float, signal: str | None) -> str:
    """The user's config (or the built-in one) with the threshold set, validated before it is written.

    YAML comments do not survive the round trip; the keys keep their order.
    """
    import yaml

    from semrouter.config.loader import DEFAULT_CONFIG, ConfigError, parse_config

    source = Path(config_path or DEFAULT_CONFIG)
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    where = judgment.write(raw, round(threshold, 6), signal)
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    try:
        parse_config(text, output)
    except ConfigError as exc:
        raise EvalError(f"the calibrated config does not validate: {exc}") from None
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
    return f"{where} = {round(threshold, 6)} in {output}"


def summary(m: dict[str, Any]) -> str:
    (target, value), at = next(iter(m["target"].items())), m["at_threshold"]
    lines = [
        f"{m['judgment']}: threshold {m['threshold']} for {target} = {value} "
        f"on {m['n']} rows ({m['n_positive']} positive)",
        f"  at it: precision {fmt(at['precision'])}, recall {fmt(at['recall'])}, "
        f"false-positive rate {fmt(at['fpr'])}, flagged {fmt(at['flagged'])}",
    ]
    if m["written"]:
        lines.append(f"  wrote {m['written']}")
    lines += [f"  note: {n}" for n in m["notes"]]
    return "\n".join(lines)


def render(report: Report, m: dict[str, Any]) -> None:
    report.text(header_markdown(m))
    report.text(summary(m).replace("\n  ", "\n- "))
    pts = m["curve"]
    xs = [p["threshold"] for p in pts]
    series: dict[str, Sequence[float]] = {k: [float(p[k]) for p in pts] for k in ("precision", "recall", "fpr")}
    title = f"{m['judgment']}: the curve the threshold was chosen from"
    fig = line_plot(xs, series, title, "threshold", "rate", vline=("chosen", m["threshold"]))
    report.figure("curve", fig, "precision, recall and false-positive rate by threshold")
    step = max(1, len(pts) // 20)
    rows = [[fmt(p["threshold"], 4), fmt(p["precision"]), fmt(p["recall"]), fmt(p["fpr"])] for p in pts[::step]]
    report.table(["threshold", "precision", "recall", "false-positive rate"], rows)


def run(args: argparse.Namespace) -> int:
    metrics = asyncio.run(evaluate(args))
    if args.output != "-":
        return emit(args, metrics, summary, render, f"Calibration: {metrics['judgment']}")
    metrics = shown_paths(metrics)
    print(summary(metrics), file=sys.stderr)  # stdout carries the config
    if args.report:
        report = Report(args.report, f"Calibration: {metrics['judgment']}")
        render(report, metrics)
        print(f"report: {report.write(metrics)}", file=sys.stderr)
    return 0
