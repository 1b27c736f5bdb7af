"""The evaluation arithmetic against hand-worked examples (every expected number is derived in a comment)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semrouter.eval.metrics import (
    auc,
    binary_rates,
    classification_report,
    confusion_matrix,
    percentile,
    roc_auc,
    roc_curve,
    thin_curve,
)

# The classify fixture's outcome: 4 of 6 right; one chemistry item went to physics, one psychology item to business.
GOLD = ["psychology", "psychology", "computer science", "chemistry", "chemistry", "psychology"]
PRED = ["psychology", "psychology", "computer science", "chemistry", "physics", "business"]


def test_confusion_matrix_rows_are_gold_columns_are_predictions() -> None:
    labels, m = confusion_matrix(GOLD, PRED)
    assert labels == ["business", "chemistry", "computer science", "physics", "psychology"]
    assert m == [
        [0, 0, 0, 0, 0],  # business: never the gold label
        [0, 1, 0, 1, 0],  # chemistry: one right, one called physics
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0],
        [1, 0, 0, 0, 2],  # psychology: two right, one called business
    ]


def test_classification_report_by_hand() -> None:
    r = classification_report(GOLD, PRED)
    assert r["n"] == 6
    assert r["accuracy"] == pytest.approx(4 / 6)
    pc = r["per_class"]
    # psychology: TP 2, predicted 2, support 3 -> P 1, R 2/3, F1 = 2*(2/3)/(5/3) = 0.8
    assert pc["psychology"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3, "predicted": 2}
    )
    # chemistry: TP 1, predicted 1, support 2 -> P 1, R 0.5, F1 2/3
    assert pc["chemistry"]["f1"] == pytest.approx(2 / 3)
    # physics and business: predicted once, never right, no support -> all 0 (zero_division=0)
    assert pc["physics"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 1}
    # macro F1 over the 5 labels: (0 + 2/3 + 1 + 0 + 0.8) / 5
    assert r["macro"]["f1"] == pytest.approx((2 / 3 + 1 + 0.8) / 5)
    # weighted by support: (2 * 2/3 + 1 * 1 + 3 * 0.8) / 6
    assert r["weighted"]["f1"] == pytest.approx((4 / 3 + 1 + 2.4) / 6)


def test_confusion_matrix_length_mismatch() -> None:
    with pytest.raises(ValueError):
        confusion_matrix(["a"], ["a", "b"])


def test_binary_rates_by_hand() -> None:
    positive = [True, True, True, False, False, False, False]
    flagged = [True, True, False, True, False, False, False]
    r = binary_rates(positive, flagged)
    assert (r["tp"], r["fn"], r["fp"], r["tn"]) == (2, 1, 1, 3)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["false_positive_rate"] == pytest.approx(1 / 4)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["accuracy"] == pytest.approx(5 / 7)


def test_roc_curve_and_auc_by_hand() -> None:
    # ranked: + (0.9), + (0.8), - (0.7), - (0.6), + (0.4), - (0.2); 3 positives, 3 negatives
    positive = [True, True, False, False, True, False]
    scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.2]
    fpr, tpr, thr = roc_curve(positive, scores)
    assert fpr == pytest.approx([0, 0, 0, 1 / 3, 2 / 3, 2 / 3, 1])
    assert tpr == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 1, 1])
    assert thr[0] == math.inf and thr[1:] == scores
    # AUC = share of (positive, negative) pairs ranked right: 0.9 and 0.8 beat all 3, 0.4 beats one -> 7/9
    assert auc(fpr, tpr) == pytest.approx(7 / 9)
    assert roc_auc(positive, scores) == pytest.approx(7 / 9)


def test_roc_ties_move_together() -> None:
    fpr, tpr, thr = roc_curve([True, False, True, False], [0.5, 0.5, 0.9, 0.1])
    assert thr[1:] == [0.9, 0.5, 0.1]  # one point for the tied 0.5 pair, not a made-up order
    assert (fpr[2], tpr[2]) == (0.5, 1.0)
    assert roc_auc([True, False, True, False], [0.5, 0.5, 0.9, 0.1]) == pytest.approx(0.875)  # tie counts half


def test_roc_auc_undefined_with_one_class() -> None:
    assert roc_auc([True, True], [0.1, 0.9]) is None
    assert roc_auc([False], [0.3]) is None


def test_percentile_matches_numpy() -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None


def test_thin_curve_keeps_ends() -> None:
    pts = {"x": [float(i) for i in range(1000)], "y": [float(i * 2) for i in range(1000)]}
    thin = thin_curve(pts, 50)
    assert len(thin["x"]) == 50 and thin["x"][0] == 0 and thin["x"][-1] == 999
    assert thin["y"] == [2 * x for x in thin["x"]]
    assert thin_curve({"x": [1.0]}, 50) == {"x": [1.0]}
