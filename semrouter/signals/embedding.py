"""Signals over the shared request embedding: ``similarity``, ``domain`` and ``complexity``.

All three read ``await ctx.embedding()``, computed once per request and shared with the cache and
the guards. Example phrases are embedded once, when the config is loaded.
"""

from __future__ import annotations

import numpy as np

from semrouter.context import RequestContext
from semrouter.embed.heads import LinearHead, load_domain_head
from semrouter.embed.model import FloatArray
from semrouter.embed.service import EmbeddingService
from semrouter.signals.base import Signal
from semrouter.signals.config import ComplexityConfig, DomainConfig, SimilarityConfig
from semrouter.signals.result import SignalResult


def embed_examples(texts: list[str]) -> FloatArray:
    return EmbeddingService.default().embed_many(texts)


class SimilaritySignal(Signal):
    uses_embedding = True

    def __init__(self, config: SimilarityConfig) -> None:
        super().__init__(config)
        self.examples = embed_examples(config.examples)

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        sims = self.examples @ await ctx.embedding()
        score = float(sims.max() if self.config.aggregate == "max" else sims.mean())
        best = int(sims.argmax())
        detail = {"similarity": round(score, 4), "closest": self.config.examples[best]}
        return SignalResult(score >= self.config.threshold, max(0.0, score), detail=detail)


class DomainSignal(Signal):
    """MMLU-Pro category (or a user-trained taxonomy) from a calibrated linear head; always matches.

    The shipped head scores the shared embedding plus hashed n-grams of the request text (see
    ``semrouter.embed.heads``); a head trained with ``--lex-scale 0`` scores the embedding alone.
    """

    uses_embedding = True

    def __init__(self, config: DomainConfig) -> None:
        super().__init__(config)
        self.head: LinearHead = load_domain_head(config.head)

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        # A lexical head also reads the text (hashed n-grams of at most LEX_MAX_CHARS characters, ~0.1 ms).
        probs = self.head.proba(await ctx.embedding(), ctx.text if self.head.lexical else None)
        order = np.argsort(probs)[::-1]
        top, p = self.head.labels[int(order[0])], float(probs[order[0]])
        label = top if p >= self.config.threshold else self.config.fallback
        detail = {"top": [[self.head.labels[int(i)], round(float(probs[i]), 4)] for i in order[:3]]}
        return SignalResult(True, p, label, detail)


class ComplexitySignal(Signal):
    """``value`` is "hard" or "easy" by nearest prototype; ``matched`` means hard (worth reasoning)."""

    uses_embedding = True

    def __init__(self, config: ComplexityConfig) -> None:
        super().__init__(config)
        self.hard = embed_examples(config.hard_examples)
        self.easy = embed_examples(config.easy_examples)

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        vec = await ctx.embedding()
        hard, easy = float((self.hard @ vec).max()), float((self.easy @ vec).max())
        gap = hard - easy
        is_hard = gap > self.config.margin
        confidence = float(1 / (1 + np.exp(-abs(gap) * 20)))  # a 0.1 cosine gap is already clear-cut
        detail = {"hard": round(hard, 4), "easy": round(easy, 4)}
        return SignalResult(is_hard, confidence, "hard" if is_hard else "easy", detail)
