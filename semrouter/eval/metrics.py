"""Metric arithmetic for the evaluations: plain functions over labels, flags and scores.

Kept apart from the commands (and free of numpy and plotting) so every number a report prints can be
checked by hand in a unit test. Conventions follow scikit-learn's, so figures compare with what users
compute themselves: per-class metrics over the union of gold and predicted labels, an undefined ratio
(nothing predicted, no support) is 0, and the macro average is the unweighted mean over those labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def ratio(num: float, den: float) -> float:
    """``num / den``, 0 when ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    return num / den if den else 0.0


def f1(precision: float, recall: float) -> float:
    return ratio(2 * precision * recall, precision + recall)


def confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[int]]]:
    """(labels, matrix) with ``matrix[i][j]`` = items of gold label i predicted as j.

    Labels default to the sorted union of gold and predicted ones, so a prediction outside the gold set
    (e.g. ``other``) gets its own column instead of vanishing.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    names = list(labels) if labels is not None else sorted(set(gold) | set(pred))
    index = {name: i for i, name in enumerate(names)}
    matrix = [[0] * len(names) for _ in names]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    return names, matrix


def classification_report(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro and support-weighted averages, confusion matrix."""
    labels, matrix = confusion_matrix(gold, pred)
    n = len(gold)
    per_class: dict[str, dict[str, float | int]] = {}
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        p, r = ratio(tp, predicted), ratio(tp, support)
        per_class[label] = {"precision": p, "recall": r, "f1": f1(p, r), "support": support, "predicted": predicted}
    k = len(labels)
    macro = {m: ratio(sum(float(c[m]) for c in per_class.values()), k) for m in ("precision", "recall", "f1")}
    weighted = {
        m: ratio(sum(float(c[m]) * int(c["support"]) for c in per_class.values()), n)
        for m in ("precision", "recall", "f1")
    }
    correct = sum(matrix[i][i] for i in range(k))
    return {
        "n": n,
        "accuracy": ratio(correct, n),
        "macro": macro,
        "weighted": weighted,
        "per_class": per_class,
        "labels": labels,
        "confusion_matrix": matrix,
    }


def binary_rates(positive: Sequence[bool], flagged: Sequence[bool]) -> dict[str, Any]:
    """Counts and rates of a detector's verdicts (``flagged``) against the truth (``positive``)."""
    if len(positive) != len(flagged):
        raise ValueError("positive and flagged differ in length")
    tp = sum(1 for y, f in zip(positive, flagged, strict=True) if y and f)
    fp = sum(1 for y, f in zip(positive, flagged, strict=True) if not y and f)
    fn = sum(1 for y, f in zip(positive, flagged, strict=True) if y and not f)
    tn = len(positive) - tp - fp - fn
    recall, precision = ratio(tp, tp + fn), ratio(tp, tp + fp)
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "recall": recall,
        "false_positive_rate": ratio(fp, fp + tn),
        "precision": precision,
        "f1": f1(precision, recall),
        "accuracy": ratio(tp + tn, len(positive)),
    }


def roc_curve(positive: Sequence[bool], scores: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
    """(fpr, tpr, thresholds): one point per distinct score, flagging ``score >= threshold``.

    Starts at (0, 0) with threshold +inf and ends at (1, 1); tied scores move together (one point), so
    the curve never claims an ordering the detector does not make.
    """
    if len(positive) != len(scores):
        raise ValueError("positive and scores differ in length")
    pos = sum(1 for y in positive if y)
    neg = len(positive) - pos
    order = sorted(zip(scores, positive, strict=True), key=lambda t: -t[0])
    fpr, tpr, thresholds = [0.0], [0.0], [math.inf]
    tp = fp = 0
    for i, (score, y) in enumerate(order):
        if y:
            tp += 1
        else:
            fp += 1
        if i + 1 < len(order) and order[i + 1][0] == score:
            continue
        fpr.append(ratio(fp, neg))
        tpr.append(ratio(tp, pos))
        thresholds.append(score)
    return fpr, tpr, thresholds


def auc(x: Sequence[float], y: Sequence[float]) -> float:
    """Area under a curve given as points sorted by ``x`` (trapezoids)."""
    return sum((x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2 for i in range(1, len(x)))


def roc_auc(positive: Sequence[bool], scores: Sequence[float]) -> float | None:
    """AUC of the ROC curve; None when one class is absent (the curve is undefined)."""
    if all(positive) or not any(positive):
        return None
    fpr, tpr, _ = roc_curve(positive, scores)
    return auc(fpr, tpr)


def thin_curve(points: dict[str, list[float]], max_points: int = 200) -> dict[str, list[float]]:
    """At most ``max_points`` evenly spaced points (ends kept), so the JSON of a 10k-row run stays small."""
    n = len(next(iter(points.values()), []))
    if n <= max_points:
        return points
    keep = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
    return {k: [v[i] for i in keep] for k, v in points.items()}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/mean of latencies in milliseconds, rounded for reports."""

    def r(v: float | None) -> float | None:
        return round(v, 3) if v is not None else None

    return {
        "p50": r(percentile(values_ms, 50)),
        "p90": r(percentile(values_ms, 90)),
        "p99": r(percentile(values_ms, 99)),
        "mean": r(sum(values_ms) / len(values_ms)) if values_ms else None,
    }


def accuracy_by(gold: Sequence[str], pred: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Accuracy per value of ``keys`` (a row's source, family or language), with per-category accuracy inside.

    Why: one pooled accuracy hides that a classifier can be good on exam-style questions and poor on
    chat phrasing; reports break results down by where the rows came from. Keys are sorted; categories
    inside each key are the sorted gold labels of that key's rows.
    """
    if not len(gold) == len(pred) == len(keys):
        raise ValueError("gold, pred and keys differ in length")
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        per: dict[str, dict[str, Any]] = {}
        for label in sorted({gold[i] for i in idx}):
            rows = [i for i in idx if gold[i] == label]
            per[label] = {"n": len(rows), "accuracy": ratio(sum(pred[i] == label for i in rows), len(rows))}
        out[key] = {
            "n": len(idx),
            "accuracy": ratio(sum(pred[i] == gold[i] for i in idx), len(idx)),
            "per_category": per,
        }
    return out


def group_consistency(groups: Sequence[str | None], pred: Sequence[str]) -> dict[str, Any] | None:
    """How often rewordings of one question (rows sharing a ``group``) get the same prediction.

    ``pairwise``: of all pairs of rows within a group, the share predicted alike (a reworded question
    lands with its sibling this often); ``all_same``: the share of groups whose rows all agree. Rows
    without a group are ignored; groups of one row carry no pair. None when no group has two rows.
    """
    if len(groups) != len(pred):
        raise ValueError("groups and pred differ in length")
    members: dict[str, list[str]] = {}
    for g, p in zip(groups, pred, strict=True):
        if g is not None:
            members.setdefault(g, []).append(p)
    multi = {g: ps for g, ps in members.items() if len(ps) > 1}
    if not multi:
        return None
    agree = pairs = 0
    for ps in multi.values():
        for i in range(len(ps)):
            for j in range(i + 1, len(ps)):
                pairs += 1
                agree += ps[i] == ps[j]
    all_same = sum(len(set(ps)) == 1 for ps in multi.values())
    return {
        "groups": len(multi),
        "pairs": pairs,
        "pairwise": ratio(agree, pairs),
        "all_same": ratio(all_same, len(multi)),
    }


def detection_rates_by(
    positive: Sequence[bool], flagged: Sequence[bool], keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """A binary detector's recall and false-positive rate per value of ``keys`` (source, family, language...).

    Why: one pooled recall hides a family or a language the detector is blind to, and one pooled
    false-positive rate hides the tricky benign prompts it blocks. Per key: ``n_positive``, ``recall``
    (None without positives), ``n_negative``, ``false_positive_rate`` (None without negatives). Keys sorted.
    """
    if not len(positive) == len(flagged) == len(keys):
        raise ValueError("positive, flagged and keys differ in length")
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        pos = [i for i in idx if positive[i]]
        neg = [i for i in idx if not positive[i]]
        out[key] = {
            "n_positive": len(pos),
            "recall": ratio(sum(bool(flagged[i]) for i in pos), len(pos)) if pos else None,
            "n_negative": len(neg),
            "false_positive_rate": ratio(sum(bool(flagged[i]) for i in neg), len(neg)) if neg else None,
        }
    return out
