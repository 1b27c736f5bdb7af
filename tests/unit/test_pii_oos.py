"""Out-of-source gate for the PII detector in English, Spanish, Portuguese, French and German (issue 16).

``tests/data/oos/pii.jsonl`` (built by ``scripts/build_pii_oos.py``) holds hand-written real-life
messages — e-mails, pasted forms, support tickets, clinical notes, CVs, with typos and mixed formats —
at least 60 with PII and 60 benign per language, the benign ones including look-alikes (scientists and
historical figures with their birth dates, product versions, ISBNs, example.com, a film called "555",
order numbers, dates that are not birth dates, greetings without a name). No rule or threshold was tuned
on it: the multilingual rules were tuned on the Faker rows of ``pii_tune.jsonl`` (``source: faker_intl``).
Its author also wrote the rules, so read the figures as an upper bound for text of this kind.

Measured at the default ``min_score`` 0.5 (detector with NER, this commit):

| language | prompt recall | entity recall | benign flagged |
|---|---|---|---|
| en | 1.000 (62) | 0.990 | 0.000 (0/62) |
| es | 1.000 (60) | 1.000 | 0.032 (2/62) |
| pt | 1.000 (60) | 1.000 | 0.000 (0/62) |
| fr | 1.000 (60) | 1.000 | 0.000 (0/62) |
| de | 0.967 (60) | 0.964 | 0.000 (0/63) |

Per type over all languages: DATE_OF_BIRTH 0.97, PERSON 0.98, every other type 1.00. Before this
work the same set scored prompt recall 0.68 / 0.33 / 0.27 / 0.45 / 0.42 (en/es/pt/fr/de). Thresholds
sit a little below the measurement (a few prompts of slack per language); Spanish benign is gated at 5%
because two Spanish questions are flagged today (the issue's target is 2%).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from semrouter.guards.config import PII_TYPES, PiiConfig
from semrouter.guards.pii import PiiDetector, PiiEvaluation, evaluate

DATA = Path(__file__).resolve().parents[1] / "data"
LANGUAGES = ("en", "es", "pt", "fr", "de")
PROMPT_RECALL = {"en": 0.95, "es": 0.95, "pt": 0.95, "fr": 0.95, "de": 0.93}
ENTITY_RECALL = {"en": 0.95, "es": 0.95, "pt": 0.95, "fr": 0.95, "de": 0.93}
BENIGN_FLAGGED = {"en": 0.02, "es": 0.05, "pt": 0.02, "fr": 0.02, "de": 0.02}


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def oos() -> list[dict[str, Any]]:
    return _rows("oos/pii.jsonl")


@pytest.fixture(scope="module")
def by_language(oos: list[dict[str, Any]]) -> dict[str, PiiEvaluation]:
    det = PiiDetector.shared(PiiConfig())
    return {lang: evaluate(det, [r for r in oos if r["language"] == lang]) for lang in LANGUAGES}


def test_oos_set_shape_and_separation(oos: list[dict[str, Any]]) -> None:
    assert all({"text", "entities", "source", "language"} <= set(r) for r in oos)
    counts = Counter((r["language"], bool(r["entities"])) for r in oos)
    assert all(counts[(lang, True)] >= 60 and counts[(lang, False)] >= 60 for lang in LANGUAGES), counts
    assert {e["type"] for r in oos for e in r["entities"]} == set(PII_TYPES)
    assert all(e["value"] in r["text"] for r in oos for e in r["entities"])
    tuned = {r["text"] for r in _rows("pii_tune.jsonl") + _rows("pii_dev.jsonl")}
    assert not tuned & {r["text"] for r in oos}
    assert sum(bool(r.get("tricky")) for r in oos) >= 150


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_prompt_and_entity_recall_per_language(by_language: dict[str, PiiEvaluation], lang: str) -> None:
    ev = by_language[lang]
    print(f"\n{lang}: prompt recall {ev.prompt_recall:.3f}, entity recall {ev.entity_recall:.3f}, {ev.per_type}")
    assert ev.prompt_recall >= PROMPT_RECALL[lang], ev.missed
    assert ev.entity_recall >= ENTITY_RECALL[lang], ev.per_type


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_benign_flag_rate_per_language(by_language: dict[str, PiiEvaluation], lang: str) -> None:
    ev = by_language[lang]
    assert ev.fpr <= BENIGN_FLAGGED[lang], ev.false_positives


@pytest.mark.slow
def test_entity_recall_per_type_over_all_languages(oos: list[dict[str, Any]]) -> None:
    ev = evaluate(PiiDetector.shared(PiiConfig()), oos)
    low = {t: r for t, (n, r) in ev.per_type.items() if r < 0.93}
    assert not low, ev.per_type


# A second author (2026-12-07): ``oos/pii_r2.jsonl``, 450 messages (45 with PII and 45 look-alikes per language)
# written by a helper session that never saw this repository. Rows are split in two by a hash of the text
# (``split``). In the first round the rules were improved looking only at the ``dev`` half, and the ``test``
# half was scored once before and once after: prompt recall 0.897 -> 0.906, entity recall 0.846 -> 0.876, benign
# flagged 0.099 -> 0.030. In the second round (the same day) the misses of *both* halves were read, so neither
# is out of source any more: the test half reads 0.966 / 0.929 / 0.010 and is gated here to hold the line; the
# third author's set below is the honest figure.
R2_PROMPT_RECALL = 0.94
R2_ENTITY_RECALL = 0.90
R2_BENIGN_FLAGGED = 0.03


def _check_later_author(rows: list[dict[str, Any]], earlier: list[str]) -> None:
    """A later author's set: 45 messages with PII and 45 look-alikes per language, every value in its text,
    no message taken from the ``earlier`` files."""
    assert len(rows) == 450
    assert all(e["value"] in r["text"] and e["type"] in PII_TYPES for r in rows for e in r["entities"])
    counts = Counter((r["language"], bool(r["entities"])) for r in rows)
    assert all(counts[(lang, True)] == 45 and counts[(lang, False)] == 45 for lang in LANGUAGES), counts
    assert not {r["text"] for name in earlier for r in _rows(name)} & {r["text"] for r in rows}


def _evaluate_per_language(rows: list[dict[str, Any]]) -> PiiEvaluation:
    """Print each language's figures (too few rows each to gate), return the whole set's."""
    det = PiiDetector.shared(PiiConfig())
    for lang in LANGUAGES:
        ev = evaluate(det, [r for r in rows if r["language"] == lang])
        print(f"\n{lang}: prompt {ev.prompt_recall:.3f} entity {ev.entity_recall:.3f} benign flagged {ev.fpr:.3f}")
    return evaluate(det, rows)


def test_second_author_set_shape() -> None:
    rows = _rows("oos/pii_r2.jsonl")
    assert {r["split"] for r in rows} == {"dev", "test"}
    _check_later_author(rows, ["oos/pii.jsonl", "pii_tune.jsonl", "pii_dev.jsonl"])


@pytest.mark.slow
def test_second_author_test_half() -> None:
    ev = _evaluate_per_language([r for r in _rows("oos/pii_r2.jsonl") if r["split"] == "test"])
    assert ev.prompt_recall >= R2_PROMPT_RECALL, ev.missed
    assert ev.entity_recall >= R2_ENTITY_RECALL, ev.per_type
    assert ev.fpr <= R2_BENIGN_FLAGGED, ev.false_positives


# A third author (2026-12-07): ``oos/pii_r3.jsonl``, 450 messages (45 with PII and 45 hard look-alikes per
# language), written by a helper session that never saw this repository, with a brief that asked for keywords far
# from their values or missing. Its misses have not been read, so it is the closest to an honest figure. Scored
# before and after each round of rules (second round 2026-12-07; third 2026-12-08, read on the fourth author's
# set below, scored six times: docs/benchmarks.md says why): prompt recall 0.964 -> 0.973 -> 0.987, entity
# recall 0.855 -> 0.864 -> 0.903, benign flagged 0.089 -> 0.076 -> 0.027. Weakest types after the third round:
# HEALTH_NUMBER 0.77, NATIONAL_ID 0.80, MEDICAL_RECORD 0.81, US_DRIVER_LICENSE 0.83. Issue 16 asks >= 0.97 / >= 0.95 per
# type / <= 0.02.
R3_PROMPT_RECALL = 0.97
R3_ENTITY_RECALL = 0.88
R3_BENIGN_FLAGGED = 0.045


def test_third_author_set_shape() -> None:
    rows = _rows("oos/pii_r3.jsonl")
    assert {r["source"] for r in rows} == {"handwritten-r3"}
    _check_later_author(rows, ["oos/pii.jsonl", "oos/pii_r2.jsonl", "pii_tune.jsonl", "pii_dev.jsonl"])


@pytest.mark.slow
def test_third_author_set() -> None:
    ev = _evaluate_per_language(_rows("oos/pii_r3.jsonl"))
    assert ev.prompt_recall >= R3_PROMPT_RECALL, len(ev.missed)
    assert ev.entity_recall >= R3_ENTITY_RECALL, ev.per_type
    assert ev.fpr <= R3_BENIGN_FLAGGED, len(ev.false_positives)


# A fourth author (2026-12-08): ``oos/pii_r4.jsonl``, 450 messages in the same shape, by a helper session that
# never saw this repository, whose brief asked for at least 25 of each identifier type and a voice of people
# doing paperwork for relatives (identifiers named sentences before their values, OCR-like slips). Its misses
# *were* read for the third round of rules (far keywords, more keywords, no-reply senders, free-phone and
# named public lines, test cards, trivia about a named person's birth), so it only holds the line: before the
# round 0.907 / 0.788 / 0.120, after 0.960 / 0.912 / 0.027 (0.969 / 0.920 before a review narrowed keywords that
# matched everyday text).
R4_PROMPT_RECALL = 0.95
R4_ENTITY_RECALL = 0.89
R4_BENIGN_FLAGGED = 0.04


def test_fourth_author_set_shape() -> None:
    rows = _rows("oos/pii_r4.jsonl")
    assert {r["source"] for r in rows} == {"handwritten-r4"}
    earlier = ["oos/pii.jsonl", "oos/pii_r2.jsonl", "oos/pii_r3.jsonl", "pii_tune.jsonl", "pii_dev.jsonl"]
    _check_later_author(rows, earlier)


@pytest.mark.slow
def test_fourth_author_set() -> None:
    ev = _evaluate_per_language(_rows("oos/pii_r4.jsonl"))
    assert ev.prompt_recall >= R4_PROMPT_RECALL, ev.missed
    assert ev.entity_recall >= R4_ENTITY_RECALL, ev.per_type
    assert ev.fpr <= R4_BENIGN_FLAGGED, ev.false_positives
