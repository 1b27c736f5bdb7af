"""Gate: the cache verifier on out-of-source pairs (``tests/data/oos/cache_pairs.jsonl``).

The set: 156 groups written by hand for this gate (an original, 2-4 paraphrases in terse, chatty,
reordered and typo-ridden styles, and one near miss per group, 26 per family: operation, role,
number_relation, entity_swap, qualifier, attribute). None of it is used to train the verifier or to choose
its threshold (the trainers ``scripts/build_cache_verifier.py`` and ``scripts/train_cache_crossencoder.py``
never read it; their hand-written training groups were filtered against it, see
``data/cache_verifier/README.md``). Measured with the shipped assets, as the stage decides a candidate
(cosine >= ``min_similarity`` 0.70, then the verifier's score >= its threshold), pair by pair, partitions aside
(``semrouter eval cache`` adds routing on top):

* ``pair`` (the default, a three-layer cross-encoder since 2026-12-07, slips folded since its fourth round):
  paraphrases served 0.65 (0.63 without folding), near misses 0.006 (1 of 156: a *role* near miss, "who pays
  for a dishwasher the tenant broke by misuse?"); the two-layer
  model before it served 0.39-0.41 / 0.000 (AVX2 / AVX-512 hosts), its first release 0.36 / 0.000;
* ``lexical`` (the 22-feature MLP, retrained with the hand-written groups): 0.29 / 0.013 (number_relation
  0.077, every other family 0);
* the first verifier (lexical, generated pairs only): 0.43 / 0.051; no verifier (cosine 0.80 + lexical guard):
  0.59 / 0.32.

Both shipped points are the strict ends of curves that dominate the first verifier's (docs/benchmarks.md);
the thresholds were chosen on another author's held-out groups. The issue's target (>= 0.90 / <= 0.01) is
*not* met for hits: this gate holds the line at what was measured, so a change that makes a verifier worse
fails it. The bounds sit a little outside the measured numbers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from semrouter.cache.config import VerifierSettings
from semrouter.cache.match import normalize
from semrouter.cache.verify import load_verifier

DATA = Path(__file__).parent.parent / "data" / "oos" / "cache_pairs.jsonl"

# model: (least hit rate, most false-hit rate, most false-hit rate of one family of 26)
BOUNDS = {
    "pair": (0.60, 0.02, 0.08),  # measured 0.647 / 0.006 / 1 of 26; 2 false hits in a family pass, 3 fail
    "lexical": (0.26, 0.03, 0.12),  # measured 0.286 / 0.013 / 2 of 26; 3 pass, 4 fail
}


@pytest.fixture(scope="module", params=sorted(BOUNDS))
def served(request: pytest.FixtureRequest) -> tuple[str, dict[str, list[bool]]]:
    from semrouter.embed.service import EmbeddingService

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(v, r["original"], r["kind"], r.get("family")) for r in rows for v in r["variants"]]
    texts = sorted({t for q, s, *_ in pairs for t in (q, s)})
    vecs = dict(zip(texts, EmbeddingService.default().embed_many(texts), strict=True))
    model = str(request.param)
    verifier = load_verifier(model)
    floor = VerifierSettings().min_similarity
    out: dict[str, list[bool]] = defaultdict(list)
    for query, stored, kind, family in pairs:
        cosine = float(np.dot(vecs[query], vecs[stored]))
        ok = cosine >= floor and verifier.score(query, normalize(stored), cosine) >= verifier.threshold
        out[kind].append(ok)
        if family:
            out[f"family:{family}"].append(ok)
    return model, out


def test_set_shape() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    near = [r for r in rows if r["kind"] == "near_miss"]
    assert len(near) >= 150 and all(r.get("family") and r.get("source") for r in near)
    families = defaultdict(int)
    for r in near:
        families[r["family"]] += len(r["variants"])
    assert min(families.values()) >= 20, families


@pytest.mark.slow
def test_paraphrase_hit_rate(served: tuple[str, dict[str, list[bool]]]) -> None:
    model, out = served
    rate = float(np.mean(out["paraphrase"]))
    assert rate >= BOUNDS[model][0], (model, rate)


@pytest.mark.slow
def test_near_miss_false_hit_rate(served: tuple[str, dict[str, list[bool]]]) -> None:
    model, out = served
    rate = float(np.mean(out["near_miss"]))
    assert rate <= BOUNDS[model][1], (model, rate)


@pytest.mark.slow
def test_false_hit_rate_per_family(served: tuple[str, dict[str, list[bool]]]) -> None:
    model, out = served
    rates = {k: float(np.mean(v)) for k, v in out.items() if k.startswith("family:")}
    assert len(rates) == 6
    assert max(rates.values()) <= BOUNDS[model][2], (model, rates)


def test_the_default_verifier_is_gated() -> None:
    assert VerifierSettings().model in BOUNDS
