"""``keyword``: literal or regex keywords over the request text, combined with OR, AND or NOR."""

from __future__ import annotations

import re

from semrouter import cpu
from semrouter.context import RequestContext
from semrouter.signals.base import Signal
from semrouter.signals.config import KeywordConfig
from semrouter.signals.result import SignalResult


class KeywordSignal(Signal):
    def __init__(self, config: KeywordConfig) -> None:
        super().__init__(config)
        flags = 0 if config.case_sensitive else re.IGNORECASE
        self.patterns: list[re.Pattern[str]] = []
        for kw in config.keywords:
            body = kw if config.regex else re.escape(kw)
            if config.word_boundary and not config.regex:
                body = rf"(?<!\w){body}(?!\w)"  # \b fails next to non-word characters such as "c++"
            self.patterns.append(re.compile(body, flags))
        self.operator = config.operator

    def _found(self, text: str) -> list[str]:
        return [kw for p, kw in zip(self.patterns, self.config.keywords, strict=True) if p.search(text)]

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        text = ctx.text
        found = await cpu.run(len(text), self._found, text)  # one search per keyword over a long prompt
        if self.operator == "or":
            matched = bool(found)
        elif self.operator == "and":
            matched = len(found) == len(self.patterns)
        else:
            matched = not found
        return SignalResult(matched, 1.0 if matched else 0.0, detail={"keywords": found} if found else {})
