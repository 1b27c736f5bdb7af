"""Gate: the cache verifier on out-of-source pairs (``tests/data/oos/cache_pairs.jsonl``).

The set: 156 groups written by hand for this gate (an original, 2-4 paraphrases in terse, chatty,
reordered and typo-ridden styles, and one near miss per group, 26 per family: operation, role,
number_relation, entity_swap, qualifier, attribute). None of it is used to train the verifier or to choose
its threshold (``scripts/build_cache_verifier.py`` never reads it). Measured with the shipped asset, as
the stage decides a candidate (cosine >= ``min_similarity`` 0.70, then verifier score >= its threshold),
pair by pair, partitions aside (``semrouter eval cache`` adds routing on top):

* paraphrases served 0.43 (before: cosine 0.80 + lexical guard served 0.59);
* near misses served 0.051 overall (before: 0.32); per family operation 0.077 (before 0.15), role 0.038
  (0.50), number_relation 0.077 (0.23), entity_swap 0.00 (0.04), qualifier 0.038 (0.65), attribute 0.077
  (0.35).

The issue's target (>= 0.90 / <= 0.01) is *not* met: this gate holds the line at what was measured, so a
change that makes the verifier worse fails it. The bounds sit a little outside the measured numbers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from semrouter.cache.config import VerifierSettings
from semrouter.cache.match import normalize
from semrouter.cache.verify import Verifier

DATA = Path(__file__).parent.parent / "data" / "oos" / "cache_pairs.jsonl"

MIN_HIT_RATE = 0.39
MAX_FALSE_HIT_RATE = 0.07
MAX_FAMILY_FALSE_HIT_RATE = 0.16  # 26 pairs a family: 4 false hits pass (measured: 2 at most), 5 fail


@pytest.fixture(scope="module")
def served() -> dict[str, list[bool]]:
    from semrouter.embed.service import EmbeddingService

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(v, r["original"], r["kind"], r.get("family")) for r in rows for v in r["variants"]]
    texts = sorted({t for q, s, *_ in pairs for t in (q, s)})
    vecs = dict(zip(texts, EmbeddingService.default().embed_many(texts), strict=True))
    verifier = Verifier.default()
    floor = VerifierSettings().min_similarity
    out: dict[str, list[bool]] = defaultdict(list)
    for query, stored, kind, family in pairs:
        cosine = float(np.dot(vecs[query], vecs[stored]))
        ok = cosine >= floor and verifier.score(query, normalize(stored), cosine) >= verifier.threshold
        out[kind].append(ok)
        if family:
            out[f"family:{family}"].append(ok)
    return out


def test_set_shape() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    near = [r for r in rows if r["kind"] == "near_miss"]
    assert len(near) >= 150 and all(r.get("family") and r.get("source") for r in near)
    families = defaultdict(int)
    for r in near:
        families[r["family"]] += len(r["variants"])
    assert min(families.values()) >= 20, families


@pytest.mark.slow
def test_paraphrase_hit_rate(served: dict[str, list[bool]]) -> None:
    rate = float(np.mean(served["paraphrase"]))
    assert rate >= MIN_HIT_RATE, rate


@pytest.mark.slow
def test_near_miss_false_hit_rate(served: dict[str, list[bool]]) -> None:
    rate = float(np.mean(served["near_miss"]))
    assert rate <= MAX_FALSE_HIT_RATE, rate


@pytest.mark.slow
def test_false_hit_rate_per_family(served: dict[str, list[bool]]) -> None:
    rates = {k: float(np.mean(v)) for k, v in served.items() if k.startswith("family:")}
    assert len(rates) == 6
    assert max(rates.values()) <= MAX_FAMILY_FALSE_HIT_RATE, rates
