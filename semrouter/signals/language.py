"""``language``: the language the request's text is written in (see :mod:`semrouter.lang`).

``value`` is the ISO 639-1 code (``und`` when it cannot tell); the signal matches when that code is one
of ``languages`` with at least ``min_confidence``. With ``languages`` empty it matches every determined
language, which is how a decision rule tests ``value`` directly. The detection is computed once per
request (``RequestContext.language``) and shared with the dry-run output and the decision log.
"""

from __future__ import annotations

import threading

from semrouter.context import RequestContext
from semrouter.lang import UNDETERMINED, LanguageDetector
from semrouter.signals.base import Signal
from semrouter.signals.config import LanguageConfig
from semrouter.signals.result import SignalResult


class LanguageSignal(Signal):
    def __init__(self, config: LanguageConfig) -> None:
        super().__init__(config)
        self.languages = frozenset(config.languages)
        # Loading the model takes ~0.2 s, mostly inflating it, which releases the GIL (semrouter.lang): start
        # it now, so it overlaps the other stages' model loading (spaCy, ~1 s) instead of adding to start-up.
        threading.Thread(target=LanguageDetector.shared, name="language-model", daemon=True).start()

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        lang = await ctx.language()
        code = lang.code if lang.confidence >= self.config.min_confidence else UNDETERMINED
        matched = code != UNDETERMINED and (not self.languages or code in self.languages)
        return SignalResult(matched, lang.confidence, code, {"detected": lang.code})
