"""Embedding runtime and service: numerics vs the torch reference, token selection, micro-batching."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from semrouter.embed.model import EMBEDDING_DIM, MAX_TOKENS, EmbeddingModel, select_token_ids
from semrouter.embed.service import EmbeddingService

REF = Path(__file__).parents[1] / "data" / "reference_embeddings.npz"


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return EmbeddingModel()


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    with np.load(REF) as z:
        return [str(t) for t in z["texts"]], np.asarray(z["embeddings"])


@pytest.fixture
def service(model: EmbeddingModel) -> Iterator[EmbeddingService]:
    svc = EmbeddingService(model, max_batch=16)
    yield svc
    svc.close()


def test_matches_torch_reference(model: EmbeddingModel, reference: tuple[list[str], np.ndarray]) -> None:
    texts, ref = reference
    assert len(texts) == 50 and ref.shape == (50, EMBEDDING_DIM)
    got = np.concatenate([model.embed([t]) for t in texts])
    cos = np.sum(got * ref, axis=1)
    # Shipped runtime is SmoothQuant + dynamic int8 (measured 0.9974 / 0.981); gates 0.99 / 0.97.
    assert cos.mean() >= 0.99, cos.mean()
    assert cos.min() >= 0.97, (cos.min(), texts[int(cos.argmin())])


def test_shipped_graph_runs_per_text(model: EmbeddingModel) -> None:
    """Dynamic int8 must never see a padded multi-text batch (its activation scale spans the tensor)."""
    assert model.per_text
    assert model.info.model_file == "minilm-l6-v2.int8.onnx"


def test_output_contract(model: EmbeddingModel) -> None:
    out = model.embed(["hello world", "", "a" * 50_000])
    assert out.dtype == np.float32 and out.shape == (3, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(TypeError):
        model.embed("not a list")  # type: ignore[arg-type, unused-ignore]


@pytest.mark.slow
def test_batch_composition_does_not_change_vectors(
    model: EmbeddingModel, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, _ = reference
    alone = np.concatenate([model.embed([t]) for t in texts])
    together = model.embed(texts)  # per-text graph: spread over the pool, one text per run
    assert float(np.min(np.sum(alone * together, axis=1))) > 0.99999
    rng = np.random.default_rng(0)
    for _ in range(3):  # any composition / order / duplicates
        pick = rng.choice(len(texts), size=7)
        got = model.embed([texts[i] for i in pick])
        assert float(np.min(np.sum(got * alone[pick], axis=1))) > 0.99999
    single = EmbeddingModel(intra_op_threads=1)  # sequential path
    assert float(np.min(np.sum(single.embed(texts[:10]) * alone[:10], axis=1))) > 0.99999


def test_padded_graph_still_supported(model: EmbeddingModel) -> None:
    """``per_text=False`` runs one padded pass (what an fp32 graph does): correct shape and norm."""
    padded = EmbeddingModel(model.model_path, per_text=False)
    out = padded.embed(["hello world", "a much longer sentence about interest rates and inflation"])
    assert out.shape == (2, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_select_token_ids_head_and_tail() -> None:
    short = list(range(10))
    assert select_token_ids(short, 101, 102) == [101, *short, 102]
    long = list(range(1000))
    sel = select_token_ids(long, 101, 102)
    assert len(sel) == MAX_TOKENS
    assert sel[1:128] == list(range(127)) and sel[128:-1] == list(range(1000 - 127, 1000))
    assert select_token_ids(list(range(254)), 1, 2)[1:-1] == list(range(254))  # exactly fits


def test_long_prompt_keeps_start_and_end(model: EmbeddingModel) -> None:
    text = "alpha " * 400 + "omega"
    ids = model.token_ids(text)
    assert len(ids) == MAX_TOKENS
    omega = model.token_ids("omega")[1:-1]
    assert ids[-1 - len(omega) : -1] == omega
    assert ids == model.token_ids(text)  # deterministic


def test_embed_many_preserves_order(model: EmbeddingModel, service: EmbeddingService) -> None:
    texts = ["short", "a much longer sentence about the central bank and interest rates " * 5, "mid length text"]
    many = service.embed_many(texts, batch_size=2)
    np.testing.assert_allclose(many, model.embed(texts), atol=1e-5)


async def test_concurrent_calls_are_batched_and_identical(
    model: EmbeddingModel, service: EmbeddingService, reference: tuple[list[str], np.ndarray]
) -> None:
    texts = reference[0][:40] + reference[0][:5]  # duplicates are computed once per batch
    singles = np.concatenate([model.embed([t]) for t in texts])
    got = await asyncio.gather(*(service.embed(t) for t in texts))
    np.testing.assert_allclose(np.stack(got), singles, atol=1e-5)
    assert service.stats.items == len(texts)
    assert service.stats.max_batch > 1, service.stats
    assert service.stats.max_batch <= 16
    assert not got[0].flags.writeable  # shared vector: consumers must not mutate it


async def test_cancelled_caller_does_not_break_worker(service: EmbeddingService) -> None:
    tasks = [asyncio.create_task(service.embed(f"text {i}")) for i in range(8)]
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    assert (await service.embed("still alive")).shape == (EMBEDDING_DIM,)


async def test_closed_service_rejects(model: EmbeddingModel) -> None:
    svc = EmbeddingService(model)
    svc.close()
    with pytest.raises(RuntimeError):
        await svc.embed("x")


@pytest.mark.slow
def test_serving_does_not_import_torch() -> None:
    code = (
        "import sys; from semrouter.embed import EmbeddingModel, load_domain_head;"
        "m = EmbeddingModel(); load_domain_head().predict(m.embed(['hi'])[0]);"
        "bad = [k for k in ('torch', 'transformers', 'sentence_transformers', 'sklearn') if k in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
