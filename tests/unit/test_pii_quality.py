"""Quality gate for the PII detector on the held-out dev set (tests/data/pii_dev.jsonl).

Why a gate: a PII guard that blocks ordinary questions (scientists' names, ISBNs, documentation
placeholders) is switched off by its users, and one that misses personal data is worse than none. The
issue asks for prompt-level recall >= 95% and a benign false-positive rate <= 2% at the configured
``min_score``. ``pii_dev.jsonl`` is built by ``scripts/build_pii_data.py`` from templates, a faker seed,
MMLU questions and look-alikes that are all disjoint from ``pii_tune.jsonl`` (the set the rules were tuned
on). Per-type recall is printed (``-s``) and reported by ``bench/pii.py``; only the prompt-level numbers gate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from semrouter.guards.config import PII_TYPES, PiiConfig
from semrouter.guards.pii import PiiDetector, PiiEvaluation, evaluate

DATA = Path(__file__).resolve().parents[1] / "data"


def _rows(name: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def dev() -> PiiEvaluation:
    return evaluate(PiiDetector.shared(PiiConfig()), _rows("pii_dev.jsonl"))


def test_dev_set_is_separate_from_tuning_set() -> None:
    tune = {r["text"] for r in _rows("pii_tune.jsonl")}
    dev = _rows("pii_dev.jsonl")
    assert not tune & {r["text"] for r in dev}
    benign = [r for r in dev if not r["entities"]]
    assert len(benign) >= 500 and sum(r["source"] == "lookalike" for r in benign) >= 150
    # NATIONAL_ID and HEALTH_NUMBER (issue 16) are gated on the multilingual OOS set (test_pii_oos.py)
    dev_types = {e["type"] for r in dev for e in r["entities"]}  # type: ignore[attr-defined]
    assert dev_types == set(PII_TYPES) - {"NATIONAL_ID", "HEALTH_NUMBER"}


@pytest.mark.slow
def test_prompt_level_recall(dev: PiiEvaluation) -> None:
    print(f"\nprompt recall {dev.prompt_recall:.3f} ({dev.n_positive} prompts), entity recall {dev.entity_recall:.3f}")
    for kind, (n, recall) in dev.per_type.items():
        print(f"  {kind:18s} n={n:4d} recall={recall:.3f}")
    assert dev.prompt_recall >= 0.95


@pytest.mark.slow
def test_false_positive_rate_on_benign_prompts(dev: PiiEvaluation) -> None:
    print(f"\nbenign flagged {len(dev.false_positives)}/{dev.n_benign} = {dev.fpr:.3%}")
    assert dev.fpr <= 0.02


@pytest.mark.slow
def test_every_type_is_found_on_dev(dev: PiiEvaluation) -> None:
    # PERSON is the weakest by design (a name needs personal context); every other type is format-driven
    assert all(recall >= 0.9 for kind, (_, recall) in dev.per_type.items() if kind != "PERSON"), dev.per_type
    assert dev.per_type["PERSON"][1] >= 0.8
