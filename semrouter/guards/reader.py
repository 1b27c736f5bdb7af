"""The guards' reader: a small fine-tuned encoder for the prompts the linear heads are unsure of (issue 16).

Why a second model: the attack and harmful heads are linear on the frozen shared embedding and hashed n-grams.
More training text of the same kind stopped moving them (docs/benchmarks.md), because the embedding, trained
for similarity, does not keep *who is told to do what inside which frame*. A transformer fine-tuned on the
guards' rows reads that. Each guard's verdict is a blend of its linear score and the reader's probability; the
reader costs a forward pass of its own, so it runs only where the blend can fall on either side of its
threshold (:class:`Band`). Blend weights and thresholds are chosen on the heads' validation rows
(``scripts/guard_reader_report.py``) and travel in the model's metadata (:class:`ReaderRule`); the benchmark
reports the share of prompts that reach it.

It is the shipped embedding model's first layers (same tokenizer, no new vocabulary) with two logits, attack and
harmful. Input: the last user turn as the first segment, the earlier user turns as the second, each cut to
bounded characters, the pair to :data:`READER_MAX_TOKENS` word pieces, so its cost has a ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

READER_ASSET = Path(__file__).parent / "assets" / "reader.int8.onnx"
READER_MAX_TOKENS = 128
MASK = -1.0  # a training row that says nothing about one of the two logits
_TEXT_CHARS = 700  # the last turn: its first and last half of this many characters
_TURN_CHARS = 300  # each earlier turn: the same, for this many
_TURNS = 3  # earlier user turns read (the attack head's window)


def _cut(text: str, chars: int) -> str:
    """Head and tail of a long text: instructions hide at either end of a pasted document."""
    if len(text) <= chars:
        return text
    half = chars // 2
    return text[:half] + " … " + text[-half:]


def reader_input(text: str, context: Sequence[str] = ()) -> tuple[str, str]:
    """(first segment, second segment) the reader sees for a last turn and the earlier user turns."""
    return _cut(text, _TEXT_CHARS), "\n".join(_cut(t, _TURN_CHARS) for t in list(context)[-_TURNS:])


class ReaderEncoder:
    """Tokenises (text, context) pairs as the reader was trained: ``[CLS] text [SEP] context [SEP]``."""

    def __init__(self, tokenizer_file: Path | str, max_tokens: int = READER_MAX_TOKENS) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_file))
        self.tok.no_padding()
        self.tok.enable_truncation(max_tokens, strategy="longest_first")

    @classmethod
    def from_tokenizer_file(cls, max_tokens: int = READER_MAX_TOKENS) -> ReaderEncoder:
        from semrouter.embed.model import ASSETS_DIR, TOKENIZER_FILE

        return cls(ASSETS_DIR / TOKENIZER_FILE, max_tokens)

    def encode(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[Any]:
        """The truncated encodings; one with ``overflowing`` pieces lost word pieces to the cap."""
        pairs = [reader_input(t, c) for t, c in items]
        return self.tok.encode_batch([(a, b) if b else a for a, b in pairs])

    def batch(self, items: Sequence[tuple[str, Sequence[str]]]) -> dict[str, npt.NDArray[np.int64]]:
        from semrouter.embed.model import padded_feeds

        return padded_feeds(self.encode(items))


def read_whole(text: str, context: Sequence[str], encoding: Any) -> bool:
    """Whether the reader read all of ``text`` and its earlier turns: nothing cut by characters (``reader_input``)
    nor by the word-piece cap (the truncated ``encoding`` of that input has no overflowing pieces)."""
    if len(text) > _TEXT_CHARS or len(context) > _TURNS or any(len(t) > _TURN_CHARS for t in context):
        return False
    return not encoding.overflowing


class GuardReader:
    """Loaded reader (ONNX, int8); ``logits`` gives (attack, harmful) for one prompt. Thread-safe (ORT)."""

    def __init__(self, path: Path | str = READER_ASSET, *, threads: int = 1) -> None:
        from semrouter.embed.model import cpu_session

        self.session = cpu_session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("semrouter.outputs") != "attack,harmful":
            raise ValueError(f"{path}: not a semrouter guard reader (metadata: {sorted(meta)})")
        self.metadata = dict(meta)
        self.encoder = ReaderEncoder.from_tokenizer_file(
            int(meta.get("semrouter.reader_max_tokens", READER_MAX_TOKENS))
        )

    @classmethod
    @lru_cache(maxsize=1)
    def default(cls) -> GuardReader:
        """The shipped reader, loaded once per process."""
        return cls(READER_ASSET)

    def _forward(self, encodings: list[Any]) -> tuple[float, float]:
        from semrouter.embed.model import padded_feeds

        out = self.session.run(None, padded_feeds(encodings))[0].reshape(-1)
        return float(out[0]), float(out[1])

    def logits(self, text: str, context: Sequence[str] = ()) -> tuple[float, float]:
        return self._forward(self.encoder.encode([(text, context)]))

    def read(self, text: str, context: Sequence[str] = ()) -> tuple[float, float, bool]:
        """(attack logit, harmful logit, whether it read the whole input); a non-finite output is an error."""
        encodings = self.encoder.encode([(text, context)])
        a, h = self._forward(encodings)
        if not (math.isfinite(a) and math.isfinite(h)):
            raise ValueError("the reader gave a non-finite logit")
        return a, h, read_whole(text, context, encodings[0])


@dataclass(frozen=True)
class Band:
    """Where and how the reader decides for one guard. For linear scores ``x`` in ``[lo, hi)`` the verdict is
    ``(1 - weight) * x + weight * reader >= threshold``; outside, the linear verdict stands. With ``weight <
    1`` the band is exactly where that blend can land on either side of ``threshold`` (the reader's
    probability lies in [0, 1]), widened to hold the linear threshold, so the cascade gives the blend's verdict
    without reading every prompt, and outside the band the linear verdict is the blend's too."""

    lo: float = 1.0
    hi: float = 1.0
    weight: float = 1.0
    threshold: float = 0.5

    @classmethod
    def exact(cls, weight: float, threshold: float, linear_threshold: float) -> Band:
        """The band of a blend: below ``lo`` it cannot reach ``threshold``, from ``hi`` on it cannot miss it."""
        if not 0.0 < weight < 1.0:
            raise ValueError("an exact band needs 0 < weight < 1")
        lo, hi = (threshold - weight) / (1.0 - weight), threshold / (1.0 - weight)
        return cls(min(lo, linear_threshold), max(hi, linear_threshold), weight, threshold)

    def covers(self, linear: float) -> bool:
        return self.lo <= linear < self.hi

    def blend(self, linear: float, reader: float) -> float:
        return (1.0 - self.weight) * linear + self.weight * reader

    def decide(self, linear: float, linear_threshold: float, reader: float) -> bool:
        return self.blend(linear, reader) >= self.threshold if self.covers(linear) else linear >= linear_threshold

    def text(self) -> str:
        return f"{self.lo!r},{self.hi!r},{self.weight!r},{self.threshold!r}"

    @classmethod
    def parse(cls, s: str) -> Band:
        lo, hi, weight, thr = (float(x) for x in s.split(","))
        if not (lo < hi and 0.0 < weight <= 1.0 and 0.0 < thr < 1.0):  # NaN fails every comparison too
            raise ValueError(f"invalid reader band {s!r}: needs lo < hi, 0 < weight <= 1, 0 < threshold < 1")
        return cls(lo, hi, weight, thr)


@dataclass(frozen=True)
class ReaderRule:
    """The cascade rule of both guards (chosen on validation rows, ``scripts/guard_reader_report.py``), kept
    in the reader model's metadata so model and rule travel together. The harmful band is on the margin
    ``0.5 + score - threshold`` of the head's top category, so one band serves every category's threshold."""

    attack: Band = field(default_factory=Band)
    harmful: Band = field(default_factory=Band)

    @classmethod
    def from_report(cls, report: dict[str, dict[str, float]]) -> ReaderRule:
        def band(d: dict[str, float]) -> Band:
            return Band(d["lo"], d["hi"], d["weight"], d["threshold"]) if d else Band()

        return cls(band(report.get("attack", {})), band(report.get("harmful", {})))

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> ReaderRule:
        try:
            return cls(Band.parse(meta["semrouter.attack_band"]), Band.parse(meta["semrouter.harmful_band"]))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"reader model has no cascade rule in its metadata ({sorted(meta)})") from exc

    def write(self, path: Path | str) -> None:
        """Store the rule in the ONNX model's metadata (training time only: needs the ``onnx`` package)."""
        import onnx

        m = onnx.load(str(path))
        keep = [p for p in m.metadata_props if p.key not in ("semrouter.attack_band", "semrouter.harmful_band")]
        del m.metadata_props[:]
        m.metadata_props.extend(keep)
        for key, band in (("semrouter.attack_band", self.attack), ("semrouter.harmful_band", self.harmful)):
            entry = m.metadata_props.add()
            entry.key, entry.value = key, band.text()
        onnx.save(m, str(path))
