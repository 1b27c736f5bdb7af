"""Domain head: file format, fallback rule, split reproducibility, and the shipped head's accuracy gates."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from semrouter.embed.heads import LEX_BUCKETS, LinearHead, load_domain_head
from semrouter.embed.model import MODEL_ID, EmbeddingModel
from semrouter.embed.service import EmbeddingService
from semrouter.embed.train import (
    DOMAIN_LABELS,
    expected_calibration_error,
    file_sha256,
    heldout_split,
    load_labelled,
    stratified_split,
    train_domain_head,
)

DATA = Path(__file__).parents[2].parent / "shared" / "data" / "domain"
needs_data = pytest.mark.skipif(not (DATA / "mmlu_train.jsonl").is_file(), reason="shared/data not present")


@pytest.fixture(scope="module")
def head() -> LinearHead:
    return load_domain_head()


@pytest.fixture(scope="module")
def service() -> EmbeddingService:
    return EmbeddingService(EmbeddingModel())


def test_shipped_head_contract(head: LinearHead) -> None:
    assert head.labels == DOMAIN_LABELS
    assert head.dim == 384 and head.fallback == "other" and 0 < head.threshold < 1
    assert head.metadata["embedding_model"] == MODEL_ID
    assert head.metadata["split"]["heldout_fraction"] == 0.1
    vec = np.random.default_rng(0).normal(size=384).astype(np.float32)
    probs = head.predict_proba(vec / np.linalg.norm(vec))
    assert set(probs) == set(DOMAIN_LABELS)
    assert abs(sum(probs.values()) - 1.0) < 1e-6
    # the shipped head reads the text too (hashed n-grams); without text only the embedding part counts
    assert head.lexical and head.metadata["augment_per_class"] > 0
    assert head.metadata["n_extra"] > 4000 and head.metadata["extra_weight"] == 4.0  # data/domain/*.jsonl
    zero = np.zeros(384, dtype=np.float32)
    assert np.abs(head.logits(zero, "stoichiometry of the titration") - head.logits(zero)).max() > 0.01
    with pytest.raises(ValueError):
        head.proba(np.stack([zero, zero]), ["only one text"])


def test_fallback_threshold_and_roundtrip(tmp_path: Path) -> None:
    w = np.zeros((4, 3), dtype=np.float32)
    w[0, 0], w[1, 1] = 5.0, 0.2
    h = LinearHead(("a", "b", "other"), w, np.zeros(3, dtype=np.float32), 1.0, 0.5, "other", {"k": 1})
    confident = h.predict(np.array([1, 0, 0, 0]))
    assert confident.label == "a" and not confident.fell_back
    unsure = h.predict(np.array([0, 1, 0, 0]))  # p(b) ~ 0.4 < 0.5
    assert unsure.label == "other" and unsure.top_label == "b" and unsure.fell_back
    assert h.predict(np.array([0, 1, 0, 0]), threshold=0.0).label == "b"
    h.save(tmp_path / "h.npz")
    h2 = LinearHead.load(tmp_path / "h.npz")
    assert h2.labels == h.labels and h2.metadata == {"k": 1} and h2.threshold == 0.5
    np.testing.assert_array_equal(h2.weight, h.weight)
    with pytest.raises(ValueError):
        LinearHead(("a", "b"), w, np.zeros(3, dtype=np.float32))


def test_stratified_split_is_deterministic_and_stratified() -> None:
    labels = ["x"] * 100 + ["y"] * 30 + ["z"] * 3
    keep, held = stratified_split(labels, 0.1, 42)
    keep2, held2 = stratified_split(labels, 0.1, 42)
    np.testing.assert_array_equal(held, held2)
    np.testing.assert_array_equal(keep, keep2)
    assert sorted([*keep, *held]) == list(range(len(labels)))
    counts = {c: sum(labels[i] == c for i in held) for c in "xyz"}
    assert counts == {"x": 10, "y": 3, "z": 1}


def test_ece() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, y) == pytest.approx(0.5 * 0.1 + 0.5 * 0.1)


@pytest.mark.slow
def test_train_domain_head_smoke(tmp_path: Path) -> None:
    """The training driver end to end on synthetic clustered vectors (no model, fast)."""
    rng = np.random.default_rng(0)
    labels = ["alpha", "beta", "other"]
    rows = [{"text": f"{lab} {i}", "category": lab} for lab in labels for i in range(40)]
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    centers = {lab: rng.normal(size=384) for lab in labels}

    def center(text: str) -> np.ndarray:
        # augmented copies wrap or mangle the text: the first label word still in it decides the cluster
        found = [lab for lab in labels if lab in text.lower()]
        return centers[found[0]] if found else np.zeros(384)

    def embed_many(texts: list[str], progress: bool = False, **_: Any) -> np.ndarray:
        x = np.stack([center(t) + rng.normal(scale=2.0, size=384) for t in texts])
        out: np.ndarray = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
        return out

    fake = SimpleNamespace(
        embed_many=embed_many, model=SimpleNamespace(info=SimpleNamespace(model_id="m", model_file="f"))
    )
    report = train_domain_head(data, tmp_path / "h.npz", service=fake, progress=False, augment_per_class=10)
    assert report["heldout"]["accuracy"] > 0.9
    assert report["n_heldout"] == 12
    assert report["n_augmented"] == 3 * 10 * 2  # chatty and options per class; one-sentence rows have no stem copy
    h = LinearHead.load(tmp_path / "h.npz")
    assert h.labels == tuple(labels) and h.metadata["data_sha256"] == file_sha256(data)
    assert h.lexical and h.metadata["lex_buckets"] == LEX_BUCKETS
    meta = dict(h.metadata, lex_fingerprint="0" * 16)  # as if the n-gram hashing had changed since training
    LinearHead(h.labels, h.weight, h.bias, metadata=meta, lex_weight=h.lex_weight, lex_idf=h.lex_idf).save(
        tmp_path / "stale.npz"
    )
    with pytest.raises(ValueError, match="retrain"):
        LinearHead.load(tmp_path / "stale.npz")
    plain = train_domain_head(data, None, service=fake, progress=False, augment_per_class=0, lex_scale=0.0)
    assert plain["n_augmented"] == 0 and plain["lex_buckets"] == 0
    # hand-written extra rows train at their weight; another author's file is only reported on
    extra, other = tmp_path / "extra.jsonl", tmp_path / "other.jsonl"
    extra.write_text(
        "".join(json.dumps({"text": f"{lab} hand {i}", "category": lab}) + "\n" for lab in labels for i in range(5))
    )
    other.write_text(
        "".join(json.dumps({"text": f"{lab} other {i}", "category": lab}) + "\n" for lab in labels for i in range(4))
    )
    rep = train_domain_head(
        data,
        None,
        service=fake,
        progress=False,
        augment_per_class=0,
        extra_paths=[extra],
        extra_weight=2.0,
        extra_val_paths=[other],
    )
    assert rep["n_extra"] == 15 and rep["n_train"] == plain["n_train"] + 15 and rep["extra"] == ["extra.jsonl"]
    assert rep["extra_val"]["other.jsonl"]["n"] == 12 and rep["extra_val"]["other.jsonl"]["accuracy"] > 0.9
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "category": "gamma"}) + "\n")
    with pytest.raises(ValueError, match="gamma"):
        train_domain_head(data, None, service=fake, progress=False, augment_per_class=0, extra_paths=[bad])


@needs_data
def test_dev_eval_accuracy_gate(head: LinearHead, service: EmbeddingService) -> None:
    texts, labels = load_labelled(DATA / "dev_eval.json")
    pred = head.predict_labels(service.embed_many(texts), texts=texts)
    acc = float(np.mean(np.array(pred) == np.array(labels)))
    # measured 0.914 (before the hand-written training text, data/domain/: 0.843; embedding-only head: 0.800)
    assert acc >= 0.88, acc


@pytest.mark.slow
@needs_data
def test_heldout_accuracy_gate(head: LinearHead, service: EmbeddingService) -> None:
    path = DATA / "mmlu_train.jsonl"
    assert head.metadata["data_sha256"] == file_sha256(path), "head trained on a different mmlu_train.jsonl"
    texts, labels = load_labelled(path)
    _, held = heldout_split(labels)
    assert head.metadata["n_rows"] == len(labels)
    assert head.metadata["split"]["heldout_seed"] == 20250101  # the split definition the test recomputes
    held_texts = [texts[i] for i in held]
    x = service.embed_many(held_texts)
    y_true = np.array([labels[i] for i in held])
    probs = head.proba(x, held_texts)
    y_pred = np.array([head.labels[i] for i in probs.argmax(1)])
    acc = float(np.mean(y_pred == y_true))
    # measured 0.764: the hand-written text of data/domain/ (weight 4) costs the training source's own exam
    # phrasing 4 points (0.804 before it; the embedding-only head 0.772) and gains 19 on conversational
    # requests out of source (tests/unit/test_domain_oos.py, docs/benchmarks.md "domain-oos")
    assert acc >= 0.75, acc
    y_idx = np.array([head.labels.index(c) for c in y_true])
    assert expected_calibration_error(probs, y_idx) < 0.06
