"""The guard stage's cascade (``guards.reader``): where a linear head is unsure, its score is blended with the
reader's, so the verdict is the blend's (:class:`~semrouter.guards.reader.Band`).

Why a cascade and not the reader on every prompt: the reader is a transformer pass of its own (three layers,
at most :data:`~semrouter.guards.reader.READER_MAX_TOKENS` word pieces), about half the shared embedding's
cost. Run only where a linear score falls in its guard's band (:class:`~semrouter.guards.reader.ReaderRule`,
chosen on validation rows so that at most a tenth of ordinary benign prompts reach it; 1-4% did in the
measurements), the p50 of a routing decision does not move; the prompts in the band pay one pass, shared by
both guards.

The pass is a blocking C call that releases the GIL and is bounded by the token cap, so it runs on the
default thread pool, never on the event loop. If it fails, the linear verdict stands and the fault is
recorded as ``guard.reader`` (the exception type only, never the text). With ``scan: all_user`` the reader
does not run: it was trained on a last turn read with the turns before it, not on each turn alone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from semrouter.guards.multilingual import rescale
from semrouter.guards.reader import READER_ASSET, Band, GuardReader, ReaderRule

if TYPE_CHECKING:
    from semrouter.context import RequestContext
    from semrouter.guards.config import ReaderConfig
    from semrouter.guards.harmful import HarmfulResult

log = logging.getLogger("semrouter.guards")

_STATE_KEY = "guard.reader"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def margin(result: HarmfulResult, threshold: float) -> float:
    """The harmful head's position against its top category's threshold, on the scale its band is set on."""
    return 0.5 + result.score - threshold


class ReaderLook:
    """The reader and its rule for the guard stage; one per stage, shared by its requests."""

    def __init__(self, reader: GuardReader, attack_threshold: float) -> None:
        self.reader = reader
        self.rule = ReaderRule.from_metadata(reader.metadata)
        self.attack_threshold = attack_threshold  # the shipped head's: the one the attack band was chosen for
        self.calls = 0
        self.faults = 0

    @classmethod
    def create(cls, cfg: ReaderConfig, attack_threshold: float) -> ReaderLook | None:
        """The cascade, or None when it is off or (a trimmed install) its model is absent."""
        if not cfg.enabled:
            return None
        if not READER_ASSET.exists():
            log.warning("guards.reader is on but %s is missing: the linear guards decide alone", READER_ASSET.name)
            return None
        return cls(GuardReader.default(), attack_threshold)

    def warm_up(self) -> None:
        self.reader.logits("warm-up")

    async def logits(self, ctx: RequestContext, context: list[str]) -> tuple[float, float, bool] | None:
        """(attack, harmful) probabilities of the request's last turn and whether the reader read all of it, one
        pass per request, or None on a fault."""

        async def compute() -> tuple[float, float, bool] | None:
            self.calls += 1
            try:
                a, h, whole = await asyncio.to_thread(self.reader.read, ctx.text, context)
            except Exception as exc:
                self.faults += 1
                ctx.faults.append(_STATE_KEY)
                log.warning("guard reader failed for request %s: %s", ctx.request_id, type(exc).__name__)
                return None
            return _sigmoid(a), _sigmoid(h), whole

        return await ctx.once(_STATE_KEY, compute)

    async def _blended(
        self,
        ctx: RequestContext,
        band: Band,
        linear: float,
        which: int,
        threshold: float,
        context: list[str],
        detail: dict[str, Any],
    ) -> float | None:
        """The blend of ``linear`` and the reader's probability (``which``: 0 attack, 1 harmful), rescaled so the
        band's threshold lands on ``threshold``; None outside the band or when the reader failed."""
        if not band.covers(linear):
            return None
        got = await self.logits(ctx, context)
        if got is None:
            return None
        blend = band.blend(linear, got[which])
        detail["reader"] = {
            "probability": round(got[which], 4),
            "blend": round(blend, 4),
            "threshold": band.threshold,
            "read_whole": got[2],
        }
        if not got[2] and blend < band.threshold:
            return None  # it saw the ends of a long prompt only: it may add a verdict, never clear the head's
        return rescale(min(max(blend, 0.0), 1.0), band.threshold, threshold)

    async def attack(
        self, ctx: RequestContext, prob: float, threshold: float, context: list[str], detail: dict[str, Any]
    ) -> float:
        """The attack probability after the cascade: in the band, the blend of the linear and the reader's
        probabilities; elsewhere the linear one. The band was chosen for the head's own threshold: under another
        (``guards.jailbreak.threshold``) the head decides alone, as the operator calibrated it."""
        if abs(threshold - self.attack_threshold) > 1e-9:
            return prob
        score = await self._blended(ctx, self.rule.attack, prob, 0, threshold, context, detail)
        return prob if score is None else score

    async def harmful(
        self, ctx: RequestContext, top: HarmfulResult, threshold: float, context: list[str], extra: dict[str, Any]
    ) -> HarmfulResult:
        """The harmful result after the cascade: in the band, the blend of the head's margin and the reader's
        probability decides on the head's top category, on that category's threshold."""
        score = await self._blended(ctx, self.rule.harmful, margin(top, threshold), 1, threshold, context, extra)
        if score is None:
            return top
        return replace(top, score=score, threshold=threshold, detected=score >= threshold)
