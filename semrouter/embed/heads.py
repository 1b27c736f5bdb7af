"""Linear softmax heads over the shared sentence embedding (numpy only at serving time).

A head is multinomial logistic regression: ``softmax((x @ W + b) / T)``. ``T`` is a temperature fitted
on a validation split after training so that the returned probabilities are calibrated (a 0.8 means
right ~80% of the time), which is what makes a fixed fallback threshold meaningful. Scoring a head is a
384x14 matrix multiply (~µs), so every classifier can share one embedding per request.

A head may also carry a *lexical* part: hashed character 3-5-gram and word 1-2-gram TF-IDF features of
the request text (the hashing helpers of ``semrouter.guards.jailbreak``, folded into ``LEX_BUCKETS``
buckets), with their own weight matrix added to the logits. Why: the embedding alone confuses
neighbouring domains whose questions read alike (engineering vs physics, chemistry vs physics, business
vs economics, history phrased as a general question), while words such as "rankine", "torque",
"stoichiometry", "dynasty" or "amortization" name the domain outright; a linear model over both keeps
the embedding's tolerance of rewording and adds the vocabulary. The lexical part costs one pass of numpy
hashing over at most ``LEX_MAX_CHARS`` characters and a sparse dot product (~0.1 ms), and needs the text:
``logits``/``proba``/``predict`` take it as ``text``; without text only the embedding part is scored.

Stored as ``.npz`` (``allow_pickle=False``): ``weight`` [dim, k], ``bias`` [k], ``labels`` [k],
``temperature``, ``threshold``, ``fallback`` and ``metadata`` (a JSON string: embedding model id,
training-data hash, split definition, held-out metrics); a lexical head adds ``lex_weight``
[LEX_BUCKETS, k] (float16) and ``lex_idf`` [LEX_BUCKETS].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DOMAIN_HEAD_PATH = ASSETS_DIR / "domain_head.npz"

FloatArray = npt.NDArray[np.float32]

LEX_BUCKETS = 1 << 15  # divides the jailbreak hash's 2**18 buckets, so ``id % LEX_BUCKETS`` stays uniform
LEX_MAX_CHARS = 2000  # text read for lexical features: the first 1,500 and last 500 characters


def _clip(text: str) -> str:
    """Lower-cased text, long inputs cut to their head and tail so hashing cost is bounded."""
    t = text if len(text) <= LEX_MAX_CHARS else text[:1500] + " " + text[-500:]
    return t.lower()


def lexical_counts(text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(unique bucket ids, sublinear term frequency ``1 + log(count)``) of one text's hashed n-grams."""
    from semrouter.guards.jailbreak import ngram_ids

    ids = ngram_ids(_clip(text)) % LEX_BUCKETS
    if len(ids) == 0:
        return ids, np.zeros(0, dtype=np.float32)
    uniq, counts = np.unique(ids, return_counts=True)
    return uniq, (1.0 + np.log(counts)).astype(np.float32)


def lexical_fingerprint() -> str:
    """Digest of the bucket ids of a fixed text: stored with a lexical head, checked when it loads.

    The hashing lives in ``semrouter.guards.jailbreak``; if it ever changes, a head trained with the old
    one would read the wrong weights silently. The check turns that into an error at start-up.
    """
    import hashlib

    ids, _ = lexical_counts("The Quick brown fox, 42 Jumps! über naïve café")
    return hashlib.sha1(ids.astype("<i8").tobytes()).hexdigest()[:16]


def lexical_features(text: str, idf: FloatArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """L2-normalised TF-IDF of one text as (bucket ids, values)."""
    ids, tf = lexical_counts(text)
    vals = tf * idf[ids]
    norm = float(np.sqrt(np.dot(vals, vals)))
    return ids, (vals / norm if norm > 0 else vals).astype(np.float32)


def softmax(z: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    z64 = np.asarray(z, dtype=np.float64)
    z64 = z64 - z64.max(axis=-1, keepdims=True)
    e = np.exp(z64)
    out: npt.NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
    return out


@dataclass(frozen=True)
class Prediction:
    """Top label after the fallback rule, with the raw argmax kept for logging/metrics."""

    label: str
    probability: float
    top_label: str
    fell_back: bool


@dataclass(frozen=True)
class LinearHead:
    """Calibrated linear classifier over an embedding; immutable and safe to share between threads."""

    labels: tuple[str, ...]
    weight: FloatArray
    bias: FloatArray
    temperature: float = 1.0
    threshold: float = 0.0
    fallback: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    lex_weight: FloatArray | None = None  # [LEX_BUCKETS, k]: weights of the hashed n-gram TF-IDF features
    lex_idf: FloatArray | None = None  # [LEX_BUCKETS]

    def __post_init__(self) -> None:
        k = len(self.labels)
        if self.weight.ndim != 2 or self.weight.shape[1] != k or self.bias.shape != (k,):
            raise ValueError(f"head shapes do not match {k} labels: W{self.weight.shape} b{self.bias.shape}")
        if (self.lex_weight is None) != (self.lex_idf is None):
            raise ValueError("lex_weight and lex_idf come together")
        if (
            self.lex_weight is not None
            and self.lex_idf is not None
            and (self.lex_weight.shape != (LEX_BUCKETS, k) or self.lex_idf.shape != (LEX_BUCKETS,))
        ):
            raise ValueError(f"lexical part must be [{LEX_BUCKETS}, {k}] and [{LEX_BUCKETS}]")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0")
        if self.fallback is not None and self.fallback not in self.labels:
            raise ValueError(f"fallback label {self.fallback!r} is not one of the labels")

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])

    @property
    def lexical(self) -> bool:
        """Whether the head also scores hashed n-grams of the text."""
        return self.lex_weight is not None

    def _lex_logits(self, text: str) -> npt.NDArray[np.float32]:
        assert self.lex_weight is not None and self.lex_idf is not None
        ids, vals = lexical_features(text, self.lex_idf)
        out: npt.NDArray[np.float32] = vals @ self.lex_weight[ids]
        return out

    def logits(self, x: npt.ArrayLike, text: str | Sequence[str] | None = None) -> npt.NDArray[np.float64]:
        """Uncalibrated logits for one vector [dim] (and its ``text``) or a batch [n, dim] (and n texts).

        A lexical head adds the n-gram part when ``text`` is given; without it only the embedding part counts.
        """
        arr = np.asarray(x, dtype=np.float32)
        z = np.asarray(arr @ self.weight + self.bias, dtype=np.float64)
        if self.lex_weight is not None and text is not None:
            if isinstance(text, str):
                if z.ndim != 1:
                    raise ValueError("one text goes with one vector")
                z = z + self._lex_logits(text)
            else:
                if z.ndim != 2 or len(text) != z.shape[0]:
                    raise ValueError("texts and vectors differ in number")
                if len(text):
                    z = z + np.stack([self._lex_logits(t) for t in text])
        return z

    def proba(self, x: npt.ArrayLike, text: str | Sequence[str] | None = None) -> npt.NDArray[np.float64]:
        """Calibrated probabilities, shape [k] or [n, k], columns in ``labels`` order."""
        return softmax(self.logits(x, text) / self.temperature)

    def predict_proba(self, vec: npt.ArrayLike, text: str | None = None) -> dict[str, float]:
        """Calibrated probability per label for one embedding (and its text, for a lexical head)."""
        p = self.proba(vec, text)
        if p.ndim != 1:
            raise ValueError("predict_proba takes one vector; use proba() for batches")
        return {label: float(v) for label, v in zip(self.labels, p, strict=True)}

    def predict(self, vec: npt.ArrayLike, threshold: float | None = None, text: str | None = None) -> Prediction:
        """Argmax label, replaced by ``fallback`` when its probability is below the threshold."""
        p = self.proba(vec, text)
        i = int(np.argmax(p))
        thr = self.threshold if threshold is None else threshold
        top = self.labels[i]
        if self.fallback is not None and p[i] < thr:
            return Prediction(self.fallback, float(p[i]), top, True)
        return Prediction(top, float(p[i]), top, False)

    def predict_labels(
        self, x: npt.ArrayLike, threshold: float | None = None, texts: Sequence[str] | None = None
    ) -> list[str]:
        """Batch version of ``predict(...).label`` for evaluation."""
        p = self.proba(np.atleast_2d(np.asarray(x, dtype=np.float32)), texts)
        idx = p.argmax(axis=1)
        thr = self.threshold if threshold is None else threshold
        out = [self.labels[int(i)] for i in idx]
        if self.fallback is not None:
            low = p[np.arange(len(idx)), idx] < thr
            out = [self.fallback if lo else lab for lab, lo in zip(out, low, strict=True)]
        return out

    def save(self, path: str | Path) -> None:
        lex: dict[str, Any] = {}
        if self.lex_weight is not None and self.lex_idf is not None:
            lex = {"lex_weight": self.lex_weight.astype(np.float16), "lex_idf": self.lex_idf.astype(np.float32)}
        np.savez_compressed(
            Path(path),
            **lex,
            weight=self.weight.astype(np.float32),
            bias=self.bias.astype(np.float32),
            labels=np.array(self.labels, dtype=str),
            temperature=np.float64(self.temperature),
            threshold=np.float64(self.threshold),
            fallback=np.array(self.fallback or "", dtype=str),
            metadata=np.array(json.dumps(self.metadata, sort_keys=True), dtype=str),
        )

    @classmethod
    def load(cls, path: str | Path) -> LinearHead:
        with np.load(Path(path), allow_pickle=False) as z:
            fallback = str(z["fallback"]) or None
            lexical = "lex_weight" in z.files
            metadata = json.loads(str(z["metadata"]))
            if lexical and metadata.get("lex_fingerprint") != lexical_fingerprint():
                raise ValueError(f"{path}: trained with other n-gram hashing than this code's; retrain the head")
            return cls(
                labels=tuple(str(s) for s in z["labels"]),
                weight=np.ascontiguousarray(z["weight"], dtype=np.float32),
                bias=np.ascontiguousarray(z["bias"], dtype=np.float32),
                temperature=float(z["temperature"]),
                threshold=float(z["threshold"]),
                fallback=fallback,
                metadata=metadata,
                lex_weight=np.ascontiguousarray(z["lex_weight"], dtype=np.float32) if lexical else None,
                lex_idf=np.ascontiguousarray(z["lex_idf"], dtype=np.float32) if lexical else None,
            )


def load_domain_head(path: str | Path | None = None) -> LinearHead:
    """The shipped 14-category MMLU-Pro domain head (or a trained replacement at ``path``)."""
    return LinearHead.load(DOMAIN_HEAD_PATH if path is None else path)
