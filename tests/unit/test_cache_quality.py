"""Quality gate of the semantic cache: paraphrases must hit, look-alikes must not.

Runs the exact hit path of the cache stage with the real embedding model and the real in-memory backend:
each group's original is stored (``CachedAnswer.prompt = normalize(original)``) in a partition of its
own, every variant is looked up there at the default ``CacheConfig().threshold``, and a hit only counts
if ``compatible(variant, hit.answer.prompt)``. Data: ``tests/data/cache_pairs.jsonl`` (ours) and the
shared ``paraphrase_cases.json`` (vLLM Semantic Router, Apache-2.0). Numbers and their tune/report split:
``scripts/cache_threshold.py``.
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


def load_groups() -> list[tuple[str, str, list[str]]]:
    groups = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip():
            g = json.loads(line)
            groups.append((g["kind"], g["original"], list(g["variants"])))
    if SHARED.is_file():
        for case in json.loads(SHARED.read_text(encoding="utf-8")):
            groups.append(("paraphrase", case["original_question"], list(case["similar_questions"])))
    return groups


def test_dataset_shape() -> None:
    groups = load_groups()
    kinds = [k for k, _, _ in groups]
    assert set(kinds) == {"paraphrase", "near_miss"}
    assert kinds.count("paraphrase") >= 150 and kinds.count("near_miss") >= 150
    assert all(variants and all(isinstance(v, str) and v for v in variants) for _, _, variants in groups)


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return EmbeddingModel()


async def test_hit_and_false_hit_rates_at_default_threshold(model: EmbeddingModel) -> None:
    groups = load_groups()
    texts = sorted({t for _, o, vs in groups for t in (o, *vs)})
    vectors = dict(zip(texts, model.embed(texts), strict=True))
    threshold = CacheConfig().threshold
    cache = MemoryCache(max_entries=10_000)
    served = {"paraphrase": 0, "near_miss": 0}
    total = {"paraphrase": 0, "near_miss": 0}
    wrong: list[str] = []
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
    hit_rate = served["paraphrase"] / total["paraphrase"]
    false_rate = served["near_miss"] / total["near_miss"]
    print(
        f"\ncache quality @ threshold {threshold}: hit rate {hit_rate:.3f} "
        f"({served['paraphrase']}/{total['paraphrase']} paraphrases), false-hit rate {false_rate:.3f} "
        f"({served['near_miss']}/{total['near_miss']} near misses)"
    )
    for w in wrong:
        print("  false hit:", w)
    assert hit_rate >= 0.90
    assert false_rate <= 0.02


async def test_similarity_alone_is_not_enough(model: EmbeddingModel) -> None:
    """Why ``compatible`` exists: at the default threshold the cosine alone would serve many near misses."""
    groups = [g for g in load_groups() if g[0] == "near_miss"]
    texts = sorted({t for _, o, vs in groups for t in (o, *vs)})
    vectors = dict(zip(texts, model.embed(texts), strict=True))
    threshold = CacheConfig().threshold
    above = sum(float(vectors[o] @ vectors[v]) >= threshold for _, o, vs in groups for v in vs)
    assert above / sum(len(vs) for _, _, vs in groups) > 0.2
