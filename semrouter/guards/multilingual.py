"""A second look, on a multilingual embedding, at prompts that are not in English (a language-gated cascade).

Why: the attack and harmful heads (``semrouter.guards.jailbreak``, ``semrouter.guards.harmful``) read the
shared English-only MiniLM embedding plus hashed character n-grams; outside English only the n-grams
carry them, and out of source they caught about half the Russian, Chinese, Japanese or Turkish attacks.
multilingual-e5-small (``semrouter.embed.multilingual``) places a request and its translation close
together, so two small heads on it, trained mostly on English text plus the multilingual training lists,
carry over to languages they saw little of.

How it runs:

* only prompts the ``language`` signal reads as neither English (``en``) nor undetermined (``und``) get
  the multilingual embedding (:func:`gated`); English traffic keeps today's path and cost;
* the two heads here are linear (an attack probability; benign + harm-category probabilities), a few
  microseconds on the 384-d vector;
* each head's verdict is combined with the English head's by OR: :func:`rescale` maps a head's score so
  its own threshold lands on the English head's, and the guard keeps the larger of the two, so one
  threshold (and every per-route override of it) still reads one confidence.

The thresholds come from out-of-fold scores on the *training* sources' non-English rows
(``semrouter.guards.multilingual_train``), one per head (and per harm category), for the same budgets as
the English heads (<= 1% ordinary, <= 3% hard benign prompts). The model file
(``assets/multilingual_heads.npz``, ``allow_pickle=False``) holds ``attack_weight`` [384],
``attack_bias``, ``attack_threshold``, ``harm_classes``, ``harm_weight`` [C, 384], ``harm_bias`` [C],
``harm_thresholds`` [C] (NaN for benign) and ``metadata`` (JSON).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semrouter.guards.harmful import CLASSES
from semrouter.guards.jailbreak import ASSETS_DIR

MULTILINGUAL_HEADS_PATH = ASSETS_DIR / "multilingual_heads.npz"
ENGLISH = "en"
UNDETERMINED = "und"

F32 = npt.NDArray[np.float32]


def gated(language: str, languages: frozenset[str] | None = None) -> bool:
    """Whether a prompt in ``language`` gets the multilingual look: not English, not undetermined, and in
    ``languages`` when that is given."""
    if language in (ENGLISH, UNDETERMINED):
        return False
    return languages is None or language in languages


def rescale(p: float, own_threshold: float, target_threshold: float) -> float:
    """Map ``p`` monotonically so ``own_threshold`` becomes ``target_threshold`` (piecewise linear, 0 and 1
    fixed): the multilingual head's verdict at its own threshold equals its rescaled score at the English
    head's threshold, which is what the guard stage and per-route overrides compare with."""
    if not (0.0 < own_threshold < 1.0 and 0.0 < target_threshold < 1.0):
        raise ValueError("thresholds must lie strictly between 0 and 1")
    if p < own_threshold:
        return target_threshold * p / own_threshold
    return target_threshold + (1.0 - target_threshold) * (p - own_threshold) / (1.0 - own_threshold)


@dataclass(frozen=True)
class MultilingualHarm:
    """Harmful probability (1 - p(benign)), the most probable category and its threshold."""

    score: float
    category: str
    category_probability: float
    threshold: float


@dataclass(frozen=True)
class MultilingualHeads:
    """Loaded heads; immutable and safe to share between threads."""

    attack_weight: F32  # [E]
    attack_bias: float
    attack_threshold: float
    harm_weight: F32  # [C, E]
    harm_bias: F32  # [C]
    harm_thresholds: F32  # [C], NaN for benign
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> MultilingualHeads:
        with np.load(Path(path or MULTILINGUAL_HEADS_PATH), allow_pickle=False) as z:
            classes = tuple(str(s) for s in z["harm_classes"])
            if classes != CLASSES:
                raise ValueError(f"heads were trained with classes {classes}, code has {CLASSES}")
            return cls(
                attack_weight=np.ascontiguousarray(z["attack_weight"], dtype=np.float32),
                attack_bias=float(z["attack_bias"]),
                attack_threshold=float(z["attack_threshold"]),
                harm_weight=np.ascontiguousarray(z["harm_weight"], dtype=np.float32),
                harm_bias=np.ascontiguousarray(z["harm_bias"], dtype=np.float32),
                harm_thresholds=np.ascontiguousarray(z["harm_thresholds"], dtype=np.float32),
                metadata=json.loads(str(z["metadata"])),
            )

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            Path(path),
            attack_weight=self.attack_weight.astype(np.float32),
            attack_bias=np.float64(self.attack_bias),
            attack_threshold=np.float64(self.attack_threshold),
            harm_classes=np.array(CLASSES, dtype=str),
            harm_weight=self.harm_weight.astype(np.float32),
            harm_bias=self.harm_bias.astype(np.float32),
            harm_thresholds=self.harm_thresholds.astype(np.float32),
            metadata=np.array(json.dumps(self.metadata, sort_keys=True), dtype=str),
        )

    def attack_probability(self, embedding: npt.ArrayLike) -> float:
        """Calibrated attack probability for a multilingual embedding (384-d, unit length)."""
        z = self.attack_bias + float(np.dot(np.asarray(embedding, dtype=np.float32), self.attack_weight))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    def harm_probabilities(self, embedding: npt.ArrayLike) -> F32:
        z = (self.harm_bias + self.harm_weight @ np.asarray(embedding, dtype=np.float32)).astype(np.float64)
        e = np.exp(z - z.max())
        return np.asarray(e / e.sum(), dtype=np.float32)

    def harm(self, embedding: npt.ArrayLike) -> MultilingualHarm:
        p = self.harm_probabilities(embedding)
        k = 1 + int(np.argmax(p[1:]))
        return MultilingualHarm(float(1.0 - p[0]), CLASSES[k], float(p[k]), float(self.harm_thresholds[k]))
