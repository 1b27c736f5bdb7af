"""Linear softmax heads over the shared sentence embedding (numpy only at serving time).

A head is multinomial logistic regression: ``softmax((x @ W + b) / T)``. ``T`` is a temperature fitted
on a validation split after training so that the returned probabilities are calibrated (a 0.8 means
right ~80% of the time), which is what makes a fixed fallback threshold meaningful. Scoring a head is a
384x14 matrix multiply (~µs), so every classifier can share one embedding per request.

Stored as ``.npz`` (``allow_pickle=False``): ``weight`` [dim, k], ``bias`` [k], ``labels`` [k],
``temperature``, ``threshold``, ``fallback`` and ``metadata`` (a JSON string: embedding model id,
training-data hash, split definition, held-out metrics).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DOMAIN_HEAD_PATH = ASSETS_DIR / "domain_head.npz"

FloatArray = npt.NDArray[np.float32]


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

    def __post_init__(self) -> None:
        k = len(self.labels)
        if self.weight.ndim != 2 or self.weight.shape[1] != k or self.bias.shape != (k,):
            raise ValueError(f"head shapes do not match {k} labels: W{self.weight.shape} b{self.bias.shape}")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0")
        if self.fallback is not None and self.fallback not in self.labels:
            raise ValueError(f"fallback label {self.fallback!r} is not one of the labels")

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])

    def logits(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Uncalibrated logits for one vector [dim] or a batch [n, dim]."""
        arr = np.asarray(x, dtype=np.float32)
        z = arr @ self.weight + self.bias
        return np.asarray(z, dtype=np.float64)

    def proba(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probabilities, shape [k] or [n, k], columns in ``labels`` order."""
        return softmax(self.logits(x) / self.temperature)

    def predict_proba(self, vec: npt.ArrayLike) -> dict[str, float]:
        """Calibrated probability per label for one embedding."""
        p = self.proba(vec)
        if p.ndim != 1:
            raise ValueError("predict_proba takes one vector; use proba() for batches")
        return {label: float(v) for label, v in zip(self.labels, p, strict=True)}

    def predict(self, vec: npt.ArrayLike, threshold: float | None = None) -> Prediction:
        """Argmax label, replaced by ``fallback`` when its probability is below the threshold."""
        p = self.proba(vec)
        i = int(np.argmax(p))
        thr = self.threshold if threshold is None else threshold
        top = self.labels[i]
        if self.fallback is not None and p[i] < thr:
            return Prediction(self.fallback, float(p[i]), top, True)
        return Prediction(top, float(p[i]), top, False)

    def predict_labels(self, x: npt.ArrayLike, threshold: float | None = None) -> list[str]:
        """Batch version of ``predict(...).label`` for evaluation."""
        p = self.proba(np.atleast_2d(np.asarray(x, dtype=np.float32)))
        idx = p.argmax(axis=1)
        thr = self.threshold if threshold is None else threshold
        out = [self.labels[int(i)] for i in idx]
        if self.fallback is not None:
            low = p[np.arange(len(idx)), idx] < thr
            out = [self.fallback if lo else lab for lab, lo in zip(out, low, strict=True)]
        return out

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            Path(path),
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
            return cls(
                labels=tuple(str(s) for s in z["labels"]),
                weight=np.ascontiguousarray(z["weight"], dtype=np.float32),
                bias=np.ascontiguousarray(z["bias"], dtype=np.float32),
                temperature=float(z["temperature"]),
                threshold=float(z["threshold"]),
                fallback=fallback,
                metadata=json.loads(str(z["metadata"])),
            )


def load_domain_head(path: str | Path | None = None) -> LinearHead:
    """The shipped 14-category MMLU-Pro domain head (or a trained replacement at ``path``)."""
    return LinearHead.load(DOMAIN_HEAD_PATH if path is None else path)
