"""Out-of-source quality gates for the shipped domain head (issue 16).

Why: the head is trained on MMLU questions and the MMLU-Pro exemplars; accuracy on a split of those
overstates what users see by 10-25 points. These sets are hand-written for this project, in styles
the training data does not have, and never feed training, augmentation or threshold choice:

- ``tests/data/oos/domain_mmlu_pro_style.jsonl``: exam questions with their options, MMLU-Pro's 14
  categories, >= 20 each (engineering on circuits, cycles, fluids, structures; history of many eras
  and regions), not copied from MMLU or MMLU-Pro;
- ``domain_conversational.jsonl``: how people ask (chatty, typos, "my professor asked...", memos);
- ``domain_paraphrase.jsonl``: 70 groups of 4 rewordings of one question (``group``), for consistency.

Predictions are what the built-in config routes on: the head's argmax, replaced by the signal's
fallback (``other``) below the config's threshold. Measured with the shipped head (see
docs/benchmarks.md, "domain-oos"): MMLU-Pro-style 0.920 (the head before the hand-written training text
of ``data/domain/``: 0.871), conversational 0.905 (0.716), paraphrase rows 0.943 (0.829) with pairwise
consistency 0.914 (0.814), weakest category over the first two sets ``other`` 0.825 (33/40). Gates sit a
little below these. The issue's consistency target (>= 0.95) is not met: see docs/benchmarks.md.

The hand-written training text was written by other authors than these sets, without access to them,
and every training row within cosine 0.80 of a row here was dropped before training;
``test_handwritten_training_text_is_out_of_source`` holds that.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semrouter.embed.heads import LinearHead, load_domain_head
from semrouter.embed.model import EmbeddingModel
from semrouter.embed.service import EmbeddingService
from semrouter.embed.train import DOMAIN_LABELS, load_exemplars, load_labelled
from semrouter.eval.metrics import accuracy_by, group_consistency

OOS = Path(__file__).resolve().parents[1] / "data" / "oos"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "domain"
FILES = ("domain_mmlu_pro_style", "domain_conversational", "domain_paraphrase")
GATE_PRO = 0.89  # measured 0.920
GATE_CONV = 0.87  # measured 0.905
GATE_PARAPHRASE_ACC = 0.91  # measured 0.943
GATE_PAIRWISE = 0.88  # measured 0.914
GATE_WORST_CATEGORY = 0.75  # measured 0.825 (other)
HANDWRITTEN = Path(__file__).resolve().parents[2] / "data" / "domain"
NEAR_COPY = 0.80  # the cosine at which data/domain/README.md says training rows were dropped


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (OOS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def routed() -> dict[str, tuple[list[dict[str, Any]], list[str]]]:
    """Per file: (rows, routed category) through the shipped head and the built-in config's threshold."""
    from semrouter.eval.common import load_eval_config
    from semrouter.signals.config import DomainConfig

    config, _, _ = load_eval_config(None)
    signal = next(s for s in config.signals if isinstance(s, DomainConfig))
    head: LinearHead = load_domain_head(signal.head)
    svc = EmbeddingService(EmbeddingModel())
    out = {}
    for name in FILES:
        rows = _rows(name)
        texts = [r["text"] for r in rows]
        probs = head.proba(svc.embed_many(texts), texts)
        top = probs.argmax(1)
        pred = [head.labels[int(i)] if probs[n, i] >= signal.threshold else signal.fallback for n, i in enumerate(top)]
        out[name] = (rows, pred)
    return out


def _accuracy(rows: list[dict[str, Any]], pred: list[str]) -> float:
    return float(np.mean([r["category"] == p for r, p in zip(rows, pred, strict=True)]))


def test_sets_are_well_formed_and_out_of_source() -> None:
    train_texts: set[str] = set()
    if (SHARED / "mmlu_train.jsonl").is_file():
        train_texts = {t.strip().lower() for t in load_labelled(SHARED / "mmlu_train.jsonl")[0]}
        train_texts |= {t.strip().lower() for t in load_exemplars(SHARED / "mmlu_pro_exemplars.json")[0]}
    for name in FILES:
        rows = _rows(name)
        counts = Counter(r["category"] for r in rows)
        assert set(counts) == set(DOMAIN_LABELS), name
        assert all(r["source"].startswith("handwritten:") and r["language"] == "en" and r["family"] for r in rows)
        assert not {r["text"].strip().lower() for r in rows} & train_texts, name
        if name == "domain_paraphrase":
            groups: dict[str, set[str]] = {}
            for r in rows:
                groups.setdefault(r["group"], set()).add(r["category"])
            assert len(groups) >= 60 and all(len(c) == 1 for c in groups.values())
            assert all(3 <= n <= 4 for n in Counter(r["group"] for r in rows).values())
        else:
            assert min(counts.values()) >= 20, (name, counts)


@pytest.mark.slow
def test_mmlu_pro_style_accuracy(routed: dict[str, tuple[list[dict[str, Any]], list[str]]]) -> None:
    rows, pred = routed["domain_mmlu_pro_style"]
    assert _accuracy(rows, pred) >= GATE_PRO


@pytest.mark.slow
def test_conversational_accuracy(routed: dict[str, tuple[list[dict[str, Any]], list[str]]]) -> None:
    rows, pred = routed["domain_conversational"]
    assert _accuracy(rows, pred) >= GATE_CONV


@pytest.mark.slow
def test_no_category_collapses(routed: dict[str, tuple[list[dict[str, Any]], list[str]]]) -> None:
    """Pooled accuracy can hide one category going almost entirely elsewhere (history -> other was 18/44)."""
    rows = [r for name in FILES[:2] for r in routed[name][0]]
    pred = [p for name in FILES[:2] for p in routed[name][1]]
    by = accuracy_by([r["category"] for r in rows], pred, ["all"] * len(rows))["all"]["per_category"]
    worst = min(by.items(), key=lambda kv: kv[1]["accuracy"])
    assert worst[1]["accuracy"] >= GATE_WORST_CATEGORY, worst


@pytest.mark.slow
def test_paraphrase_consistency(routed: dict[str, tuple[list[dict[str, Any]], list[str]]]) -> None:
    rows, pred = routed["domain_paraphrase"]
    consistency = group_consistency([r["group"] for r in rows], pred)
    assert consistency is not None and consistency["pairwise"] >= GATE_PAIRWISE, consistency
    assert _accuracy(rows, pred) >= GATE_PARAPHRASE_ACC


@pytest.mark.slow
def test_handwritten_training_text_is_out_of_source() -> None:
    """The training text of ``data/domain/`` holds every category, and no row is a near copy of a row here."""
    files = sorted(HANDWRITTEN.glob("*.jsonl"))
    assert len(files) == 10
    train = [(t, c) for f in files for t, c in zip(*load_labelled(f), strict=True)]
    assert all(c in DOMAIN_LABELS for _, c in train)
    for f in files:
        assert set(load_labelled(f)[1]) == set(DOMAIN_LABELS), f.name
    oos = [r["text"] for name in FILES for r in _rows(name)]
    assert not {t.strip().lower() for t, _ in train} & {t.strip().lower() for t in oos}
    svc = EmbeddingService(EmbeddingModel())
    sim = svc.embed_many([t for t, _ in train]) @ svc.embed_many(oos).T
    assert float(sim.max()) < NEAR_COPY, float(sim.max())


def test_breakdown_metrics_by_hand() -> None:
    """The two report helpers ``semrouter eval classify`` uses, checked on numbers worked out by hand."""
    gold = ["math", "math", "law", "law", "law"]
    pred = ["math", "law", "law", "other", "law"]
    by = accuracy_by(gold, pred, ["a", "a", "a", "b", "b"])
    assert by["a"]["n"] == 3 and by["a"]["accuracy"] == pytest.approx(2 / 3)
    assert by["a"]["per_category"] == {"law": {"n": 1, "accuracy": 1.0}, "math": {"n": 2, "accuracy": 0.5}}
    assert by["b"]["accuracy"] == 0.5
    # groups g1 (3 rows: 2 of 3 pairs disagree), g2 (2 rows, agree); the ungrouped row is ignored
    c = group_consistency(["g1", "g1", "g1", "g2", "g2", None], ["x", "x", "y", "z", "z", "q"])
    assert c == {"groups": 2, "pairs": 4, "pairwise": 0.5, "all_same": 0.5}
    assert group_consistency(["g1", None], ["x", "y"]) is None
    with pytest.raises(ValueError):
        accuracy_by(gold, pred[:2], ["a"] * 5)
