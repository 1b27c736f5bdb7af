"""Signals read straight from the request: ``context_length``, ``header`` and ``metadata``."""

from __future__ import annotations

from typing import Any

from semrouter.context import RequestContext, prompt_text
from semrouter.signals.base import Signal
from semrouter.signals.result import SignalResult


def estimate_tokens(text: str) -> int:
    """Token count without a tokenizer download: ~4 characters per token for ASCII text, ~1 token per
    character for CJK and other multi-byte scripts (UTF-8 length minus character count finds those)."""
    multibyte = (len(text.encode("utf-8")) - len(text)) // 2
    return (len(text) - multibyte + 3) // 4 + multibyte


class ContextLengthSignal(Signal):
    """Matches when the whole prompt (every message) falls in the token band; ``value`` is the count."""

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        n = estimate_tokens(prompt_text(ctx.body))
        cfg = self.config
        matched = n >= cfg.min_tokens and (cfg.max_tokens is None or n <= cfg.max_tokens)
        return SignalResult(matched, 1.0 if matched else 0.0, str(n), {"tokens": n})


class HeaderSignal(Signal):
    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        value = ctx.headers.get(self.config.header.lower())
        matched = self.config.test(value)
        return SignalResult(matched, 1.0 if matched else 0.0, value)


def body_path(body: dict[str, Any], path: str) -> str | None:
    node: Any = body
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return None if node is None or isinstance(node, dict | list) else str(node)


class MetadataSignal(Signal):
    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        value = body_path(ctx.body, self.config.field)
        matched = self.config.test(value)
        return SignalResult(matched, 1.0 if matched else 0.0, value)
