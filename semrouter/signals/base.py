"""What every signal shares: its result type and the interface the signal stage calls.

A signal looks at one request and reports ``matched``, a ``confidence`` in [0, 1], an optional
``value`` (a category, a level) and a ``detail`` dict for the decision log and dry runs. Decision
rules refer to signals by name and may test the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import Field, model_validator

from semrouter.config.base import Strict
from semrouter.context import RequestContext


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


class SignalConfig(Strict):
    """Fields every signal config has; each signal type subclasses it with a ``type`` literal."""

    name: str = Field(min_length=1, description="How decision rules refer to this signal.")
    type: str  # each subclass narrows this to its Literal, the union's discriminator


class Signal:
    """A configured signal. ``uses_embedding`` tells the stage to start the embedding early."""

    uses_embedding: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config
        self.name: str = config.name

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        raise NotImplementedError


class ValueMatch(Strict):
    """Compare a string: exact ``equals``, membership in ``one_of``, or a ``pattern`` regex search.

    With none of them set, the signal matches when the value is present at all.
    """

    equals: str | None = None
    one_of: list[str] | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ValueMatch:
        if sum(x is not None for x in (self.equals, self.one_of, self.pattern)) > 1:
            raise ValueError("set at most one of equals, one_of, pattern")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self

    def test(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals
        if self.one_of is not None:
            return value in self.one_of
        if self.pattern is not None:
            return re.search(self.pattern, value) is not None
        return True
