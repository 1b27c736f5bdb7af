"""``semrouter eval routing``: does the selector send the right prompts to the strong model?

Input lines ``{"prompt", "weak_correct", "strong_correct"}`` (``text`` is accepted for ``prompt``): whether
the weak (cheap) and the strong (dear) model answered that prompt well. The learned selector scores each
prompt's need for the strong model (``strong_score``: its P(strong answers well) minus P(weak answers
well)); sending the top share of prompts by that score to the strong model and the rest to the weak one
traces accuracy against strong share. The metrics are RouteLLM's (``routellm/evals/evaluate.py`` and
``benchmarks.py``, lm-sys/RouteLLM, Apache-2.0), recomputed here:

- the curve: thresholds at the ``points`` + 1 quantiles of the scores (RouteLLM: ``pd.qcut(...,
  retbins=True)``, 10 bins); a prompt goes to the strong model when its score is ``>=`` the threshold
  (``>`` for the last, so the curve runs from strong share 1 down to 0);
- **PGR** at a share = (accuracy - weak accuracy) / (strong accuracy - weak accuracy);
- **APGR** = (AUC - weak AUC) / (strong AUC - weak AUC), the trapezoid area under accuracy over strong
  share, which is the area under the PGR curve when the shares span 0..1 (they always do here);
- **CPT(x%)** = the strong share at which PGR first reaches x, linearly interpolated between curve points
  (RouteLLM's ``np.interp`` of the accuracy onto the curve, which is the same on a rising curve; the first
  crossing is what "the smallest share that reaches x" means when a curve dips).

A random router scores APGR 0.5 in expectation and CPT(x%) = x; the oracle (weak model everywhere except
where only the strong model is right, RouteLLM's ``get_optimal_accuracy``) is drawn beside both. Rows
may carry ``source``, ``family``, ``category`` and ``language``: APGR and CPT are reported per value.

Scores come from the selector model directly (``--selector``, default the shipped one), on embeddings
computed in bulk, which is the function the selection stage calls per request; ``--scores FILE`` takes
precomputed ``{"strong_score"}`` lines instead, so any router can be measured the same way.
``--scores-out`` writes one ``{"strong_score": float}`` line per input line, in order.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.eval.common import EvalError, command_line, emit, field, header_markdown, load_rows
from semrouter.eval.report import Report

F64 = npt.NDArray[np.float64]
DEFAULT_POINTS = 10  # RouteLLM's --num-results: thresholds at the deciles of the scores
BREAKDOWNS = ("source", "family", "category", "language")
SMALL_GAP = 0.05  # below this strong-minus-weak accuracy, PGR divides by noise: flagged in the breakdowns
MIN_GROUP = 30  # smaller groups are listed with their size only: APGR on a handful of rows is noise


def _as_bool_array(values: Sequence[Any] | npt.NDArray[Any], name: str) -> npt.NDArray[np.bool_]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.dtype != np.bool_:
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError(f"{name} must be booleans (or 0/1)")
        arr = arr.astype(bool)
    return arr


def routing_curve(
    scores: Sequence[float] | F64,
    weak: Sequence[bool] | npt.NDArray[np.bool_],
    strong: Sequence[bool] | npt.NDArray[np.bool_],
    points: int = DEFAULT_POINTS,
) -> tuple[F64, F64]:
    """(strong shares, accuracies) in rising share order, RouteLLM's quantile thresholds."""
    s = np.asarray(scores, dtype=np.float64)
    w = _as_bool_array(weak, "weak")
    st = _as_bool_array(strong, "strong")
    if not (len(s) == len(w) == len(st)) or len(s) == 0:
        raise ValueError("scores, weak and strong must be non-empty and of one length")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    if points < 1:
        raise ValueError("points must be >= 1")
    thresholds = np.quantile(s, np.linspace(0.0, 1.0, points + 1))
    shares, accs = [], []
    for i, thr in enumerate(thresholds):
        sel = s >= thr if i != len(thresholds) - 1 else s > thr
        shares.append(float(sel.mean()))
        accs.append(float(np.where(sel, st, w).mean()))
    order = np.argsort(shares, kind="stable")
    return np.asarray(shares)[order], np.asarray(accs)[order]


def oracle_accuracy(weak: npt.NDArray[np.bool_], strong: npt.NDArray[np.bool_], share: float) -> float:
    """Best accuracy with ``share`` of the prompts on the strong model (RouteLLM ``get_optimal_accuracy``)."""
    n = len(weak)
    gain = int(np.sum(~weak & strong))
    return float((int(np.sum(weak)) + min(share * n, gain)) / n)


def pgr(accuracy: float | F64, weak_acc: float, strong_acc: float) -> float | F64:
    """Performance gap recovered: 0 at the weak model's accuracy, 1 at the strong model's."""
    return (accuracy - weak_acc) / (strong_acc - weak_acc)


def apgr(shares: F64, accs: F64, weak_acc: float, strong_acc: float) -> float:
    """RouteLLM's APGR from a curve: (AUC - weak AUC) / (strong AUC - weak AUC) over the shares covered."""
    span = float(shares[-1] - shares[0])
    if span <= 0:
        raise ValueError("the curve covers no range of strong share")
    auc = float(np.sum(np.diff(shares) * (accs[1:] + accs[:-1]) / 2))  # trapezoid (np.trapz is gone in numpy 2)
    return (auc - weak_acc * span) / ((strong_acc - weak_acc) * span)


def cpt(shares: F64, accs: F64, weak_acc: float, strong_acc: float, target: float) -> float | None:
    """Smallest strong share at which PGR reaches ``target``, interpolated; None if the curve never does."""
    want = weak_acc + target * (strong_acc - weak_acc)
    if accs[0] >= want:
        return float(shares[0])
    for i in range(1, len(shares)):
        if accs[i] >= want:
            a0, a1 = accs[i - 1], accs[i]
            t = (want - a0) / (a1 - a0) if a1 != a0 else 0.0
            return float(shares[i - 1] + t * (shares[i] - shares[i - 1]))
    return None


def routing_metrics(
    scores: Sequence[float] | F64,
    weak: Sequence[bool] | npt.NDArray[np.bool_],
    strong: Sequence[bool] | npt.NDArray[np.bool_],
    points: int = DEFAULT_POINTS,
) -> dict[str, Any]:
    """APGR, CPT(50%), CPT(80%), the curve and the oracle's APGR for one set of scored prompts.

    Raises ``ValueError`` when the two models are equally accurate (PGR is undefined then).
    """
    w = _as_bool_array(weak, "weak")
    st = _as_bool_array(strong, "strong")
    if not (len(np.asarray(scores)) == len(w) == len(st)) or len(w) == 0:
        raise ValueError("scores, weak and strong must be non-empty and of one length")
    weak_acc, strong_acc = float(w.mean()), float(st.mean())
    if strong_acc == weak_acc:
        raise ValueError("the weak and strong models are equally accurate here: PGR is undefined")
    shares, accs = routing_curve(scores, w, st, points)
    oracle_shares = np.linspace(0.0, 1.0, 101)
    oracle = np.asarray([oracle_accuracy(w, st, float(x)) for x in oracle_shares])
    return {
        "n": len(w),
        "weak_accuracy": weak_acc,
        "strong_accuracy": strong_acc,
        "apgr": apgr(shares, accs, weak_acc, strong_acc),
        "cpt50": cpt(shares, accs, weak_acc, strong_acc, 0.5),
        "cpt80": cpt(shares, accs, weak_acc, strong_acc, 0.8),
        "oracle_apgr": apgr(oracle_shares, oracle, weak_acc, strong_acc),
        "oracle_cpt50": cpt(oracle_shares, oracle, weak_acc, strong_acc, 0.5),
        "curve": {"strong_share": shares.tolist(), "accuracy": accs.tolist()},
        "oracle_curve": {"strong_share": oracle_shares.tolist(), "accuracy": oracle.tolist()},
    }


def breakdown(
    scores: F64, weak: npt.NDArray[np.bool_], strong: npt.NDArray[np.bool_], groups: Sequence[str], points: int
) -> dict[str, dict[str, Any]]:
    """APGR / CPT per group value (``n`` only for groups too small or without a gap to recover)."""
    out: dict[str, dict[str, Any]] = {}
    keys = np.asarray(groups)
    for value in sorted(set(groups)):
        idx = np.flatnonzero(keys == value)
        entry: dict[str, Any] = {"n": len(idx)}
        if len(idx) >= MIN_GROUP:
            try:
                m = routing_metrics(scores[idx], weak[idx], strong[idx], points)
            except ValueError:
                m = None
            if m is not None:
                keep = ("weak_accuracy", "strong_accuracy", "apgr", "cpt50", "cpt80", "oracle_apgr")
                entry.update({k: m[k] for k in keep})
        out[value] = entry
    return out


def _scores_from_file(path: str, n: int) -> F64:
    rows = load_rows(path)
    if len(rows) != n:
        raise EvalError(f"{path}: {len(rows)} score lines for {n} data lines")
    return np.asarray([float(field(path, r, ("strong_score",), (int, float))) for r in rows], dtype=np.float64)


def evaluate(
    data: str,
    *,
    selector_path: str | None = None,
    scores_path: str | None = None,
    embedding_cache: str | None = None,
    points: int = DEFAULT_POINTS,
    limit: int | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], F64]:
    """(metrics, scores) for one outcome file."""
    rows = load_rows(data, limit)
    prompts = [str(field(data, r, ("prompt", "text"))) for r in rows]
    weak = np.asarray([field(data, r, ("weak_correct",), (bool, int)) for r in rows], dtype=bool)
    strong = np.asarray([field(data, r, ("strong_correct",), (bool, int)) for r in rows], dtype=bool)
    notes: list[str] = []
    if scores_path is not None:
        scores = _scores_from_file(scores_path, len(rows))
        scorer = f"scores from {scores_path}"
    else:
        from semrouter.decide.learned import load_selector_model

        try:
            model = load_selector_model(selector_path)
        except (OSError, ValueError) as exc:
            raise EvalError(f"cannot load the selector model: {exc}") from None
        scorer = model.describe()
        scores = model.strong_scores(prompts, embedding_cache=embedding_cache, progress=progress)
        if "weak" not in model.columns or "strong" not in model.columns:
            notes.append(
                f"the selector's outcome columns are {list(model.columns)}; its cheapest is read as weak and "
                "its dearest as strong."
            )
    try:
        metrics = routing_metrics(scores, weak, strong, points)
    except ValueError as exc:
        raise EvalError(f"{data}: {exc}") from None
    by = {
        name: breakdown(scores, weak, strong, [str(r.data.get(name, "(none)")) for r in rows], points)
        for name in BREAKDOWNS
        if any(name in r.data for r in rows)
    }
    out = {
        "command": "routing",
        "command_line": command_line(),
        "data": str(data),
        "config": "",
        "scorer": scorer,
        "points": points,
        "notes": notes,
        **metrics,
        "random_apgr": 0.5,
        "by": by,
    }
    return out, scores


def summary(m: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "never" if v is None else f"{100 * v:.1f}%"

    lines = [
        f"routing: {m['n']} prompts, weak {m['weak_accuracy']:.3f} / strong {m['strong_accuracy']:.3f} correct",
        f"  APGR {m['apgr']:.3f} (random 0.5, oracle {m['oracle_apgr']:.3f})",
        f"  CPT(50%) {pct(m['cpt50'])}  CPT(80%) {pct(m['cpt80'])}  (random 50% / 80%)",
    ]
    for name, groups in m.get("by", {}).items():
        lines.append(f"  by {name}:")
        for value, g in groups.items():
            if "apgr" in g:
                gap = g["strong_accuracy"] - g["weak_accuracy"]
                lines.append(
                    f"    {value:<28} n={g['n']:<6} APGR {g['apgr']:.3f}  CPT(50%) {pct(g['cpt50'])}  gap {gap:+.3f}"
                    + ("  (gap too small for PGR to mean much)" if abs(gap) < SMALL_GAP else "")
                )
            else:
                lines.append(f"    {value:<28} n={g['n']:<6} (too few rows or no gap to recover)")
    return "\n".join(lines)


def render(report: Report, m: dict[str, Any]) -> None:
    from semrouter.eval.report import _pyplot

    report.text(header_markdown({**m, "config": m["scorer"]}))
    report.table(
        ["router", "APGR", "CPT(50%)", "CPT(80%)"],
        [
            ["selector", m["apgr"], m["cpt50"], m["cpt80"]],
            ["random", 0.5, 0.5, 0.8],
            ["oracle", m["oracle_apgr"], m["oracle_cpt50"], None],
        ],
    )
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    c, o = m["curve"], m["oracle_curve"]
    ax.plot(c["strong_share"], c["accuracy"], marker=".", label=f"selector (APGR {m['apgr']:.3f})")
    ax.plot([0, 1], [m["weak_accuracy"], m["strong_accuracy"]], ":", label="random (APGR 0.5)")
    ax.plot(o["strong_share"], o["accuracy"], "--", label=f"oracle (APGR {m['oracle_apgr']:.2f})")
    ax.axhline(m["weak_accuracy"], color="grey", linewidth=0.8, label="weak model")
    ax.axhline(m["strong_accuracy"], color="red", linewidth=0.8, label="strong model")
    ax.set_xlabel("share of prompts sent to the strong model")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy against strong-model share")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    report.figure("routing_curve", fig, "accuracy against strong share, with random and oracle")
    for name, groups in m.get("by", {}).items():
        rows = [
            [v, g["n"], g.get("weak_accuracy"), g.get("strong_accuracy"), g.get("apgr"), g.get("cpt50"), g.get("cpt80")]
            for v, g in groups.items()
        ]
        report.text(f"## By {name}")
        report.table([name, "n", "weak acc", "strong acc", "APGR", "CPT(50%)", "CPT(80%)"], rows)
        report.text(f"Where strong and weak accuracy differ by less than {SMALL_GAP}, PGR divides by noise.")


def run(args: argparse.Namespace) -> int:
    metrics, scores = evaluate(
        args.data,
        selector_path=args.selector,
        scores_path=args.scores,
        embedding_cache=args.embedding_cache,
        points=args.points,
        limit=args.limit,
        progress=not args.no_progress,
    )
    if args.scores_out:
        text = "".join(json.dumps({"strong_score": float(s)}) + "\n" for s in scores)
        try:
            Path(args.scores_out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise EvalError(f"{args.scores_out}: cannot write: {exc.strerror}") from None
    return emit(args, metrics, summary, render, "Routing: accuracy against strong-model share")
