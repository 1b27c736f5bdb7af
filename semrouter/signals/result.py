"""What a signal reports for one request: a plain value, shared by the signals that make it, the rules
that read it and the context that carries it.

It has a module of its own (no imports) so that the decision rules, which are part of the config, and
the request context can name it without depending on the signals' evaluators, and those on the
context, in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SignalResult:
    matched: bool
    confidence: float = 1.0
    value: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"matched": self.matched, "confidence": round(self.confidence, 4)}
        if self.value is not None:
            out["value"] = self.value
        if self.detail:
            out["detail"] = self.detail
        return out
