"""Quality gate of the semantic cache: paraphrases must hit, look-alikes must not.

Runs the exact hit path of the cache stage with the real embedding model and the real in-memory backend:
each group's original is stored (``CachedAnswer.prompt = normalize(original)``) in a partition of its
own, every variant is looked up there at the default ``CacheConfig().threshold``, and a hit only counts
if ``compatible(variant, hit.answer.prompt)``. The two sets are measured and printed separately:
``tests/data/cache_pairs.jsonl`` (ours: paraphrases and near misses) is gated, the shared
``paraphrase_cases.json`` (vLLM Semantic Router, Apache-2.0: 15 paraphrases) only reported. The threshold
was chosen on the even groups of our set and reported on the odd ones (``scripts/cache_threshold.py``);
this gate covers the whole set. End to end through routing: ``semrouter eval cache``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from semrouter.cache import CachedAnswer
from semrouter.cache.config import CacheConfig
from semrouter.cache.match import compatible, normalize
from semrouter.cache.memory import MemoryCache
from semrouter.embed.model import EmbeddingModel

DATA = Path(__file__).resolve().parents[1] / "data" / "cache_pairs.jsonl"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "cache" / "paraphrase_cases.json"
NOW = 1_700_000_000.0


Group = tuple[str, str, list[str]]  # (kind, original, variants)


def load_own() -> list[Group]:
    groups = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip():
            g = json.loads(line)
            groups.append((g["kind"], g["original"], list(g["variants"])))
    return groups


def load_shared() -> list[Group]:
    """The shared set (paraphrases only: 3 originals, 15 variants); empty where it is not checked out."""
    if not SHARED.is_file():
        return []
    cases = json.loads(SHARED.read_text(encoding="utf-8"))
    return [("paraphrase", c["original_question"], list(c["similar_questions"])) for c in cases]


def test_dataset_shape() -> None:
    groups = load_own()
    kinds = [k for k, _, _ in groups]
    assert set(kinds) == {"paraphrase", "near_miss"}
    assert kinds.count("paraphrase") >= 150 and kinds.count("near_miss") >= 150
    assert all(variants and all(isinstance(v, str) and v for v in variants) for _, _, variants in groups)


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return EmbeddingModel()


async def rates(model: EmbeddingModel, name: str, groups: list[Group]) -> tuple[float, float]:
    """(hit rate on paraphrases, false-hit rate on near misses) at the default threshold, printed."""
    texts = sorted({t for _, o, vs in groups for t in (o, *vs)})
    vectors = dict(zip(texts, model.embed(texts), strict=True))
    threshold = CacheConfig().threshold
    cache = MemoryCache(max_entries=10_000)
    served = {"paraphrase": 0, "near_miss": 0}
    total = {"paraphrase": 0, "near_miss": 0}
    wrong: list[str] = []
    missed: list[str] = []
    verbose = len(groups) < 20  # list the misses of a small set (the shared one)
    for i, (kind, original, variants) in enumerate(groups):
        partition = f"group-{i}"
        answer = CachedAnswer(content=f"answer to {original}", model="m", created=NOW, prompt=normalize(original))
        await cache.store(vectors[original], partition, answer, 3600, None, NOW)
        for v in variants:
            hit = await cache.lookup(vectors[v], partition, threshold, NOW)
            ok = hit is not None and compatible(v, hit.answer.prompt)
            total[kind] += 1
            served[kind] += ok
            if ok and kind == "near_miss":
                wrong.append(f"{original!r} -> {v!r} ({hit.similarity:.3f})" if hit else v)
            if not ok and kind == "paraphrase" and verbose:
                missed.append(f"{original!r} -> {v!r} ({float(vectors[original] @ vectors[v]):.3f})")
    hit_rate = served["paraphrase"] / total["paraphrase"] if total["paraphrase"] else float("nan")
    false_rate = served["near_miss"] / total["near_miss"] if total["near_miss"] else float("nan")
    print(
        f"\ncache quality, {name} @ threshold {threshold}: hit rate {hit_rate:.3f} "
        f"({served['paraphrase']}/{total['paraphrase']} paraphrases), false-hit rate {false_rate:.3f} "
        f"({served['near_miss']}/{total['near_miss']} near misses)"
    )
    for w in wrong:
        print("  false hit:", w)
    for m in missed:
        print("  missed:", m)
    return hit_rate, false_rate


@pytest.mark.slow
async def test_hit_and_false_hit_rates_at_default_threshold(model: EmbeddingModel) -> None:
    """The gate of the issue, on our set: at least 90% of paraphrases hit, at most 2% of near misses do.

    The shared set is printed beside it, not gated: 15 paraphrases and no near misses are too few to gate
    on, and it lives outside the repository (``../shared``), so it may be absent."""
    shared = load_shared()
    if shared:
        await rates(model, "shared paraphrase_cases.json", shared)
    else:
        print(f"\ncache quality, shared set: {SHARED} not present")
    hit_rate, false_rate = await rates(model, "own tests/data/cache_pairs.jsonl", load_own())
    assert hit_rate >= 0.90
    assert false_rate <= 0.02


@pytest.mark.slow
async def test_similarity_alone_is_not_enough(model: EmbeddingModel) -> None:
    """Why ``compatible`` exists: at the default threshold the cosine alone would serve many near misses."""
    groups = [g for g in load_own() if g[0] == "near_miss"]
    texts = sorted({t for _, o, vs in groups for t in (o, *vs)})
    vectors = dict(zip(texts, model.embed(texts), strict=True))
    threshold = CacheConfig().threshold
    above = sum(float(vectors[o] @ vectors[v]) >= threshold for _, o, vs in groups for v in vs)
    assert above / sum(len(vs) for _, _, vs in groups) > 0.2
