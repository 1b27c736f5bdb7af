"""Decision rules: trees of ``all`` / ``any`` / ``not`` over signal conditions.

In YAML::

    rules:
      all:
        - {signal: domain, one_of: [math, physics]}
        - not: {signal: premium_tier}

A rule evaluates to ``(matched, confidence)``: a condition takes its signal's confidence, ``all``
the weakest of its parts, ``any`` the strongest matching part, ``not`` the complement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Union

from pydantic import Field

from semrouter.config.base import Strict
from semrouter.signals.result import SignalResult


class Condition(Strict):
    """True when the named signal matched and, if given, its value is ``equals`` / in ``one_of``."""

    signal: str
    equals: str | None = None
    one_of: list[str] | None = None
    min_confidence: float = Field(0.0, ge=0, le=1)

    def evaluate(self, results: Mapping[str, SignalResult]) -> tuple[bool, float]:
        r = results.get(self.signal)
        if r is None or not r.matched or r.confidence < self.min_confidence:
            return False, 0.0
        if self.equals is not None and r.value != self.equals:
            return False, 0.0
        if self.one_of is not None and r.value not in self.one_of:
            return False, 0.0
        return True, r.confidence

    def signals(self) -> set[str]:
        return {self.signal}


class AllOf(Strict):
    all: list[Rule] = Field(min_length=1)

    def evaluate(self, results: Mapping[str, SignalResult]) -> tuple[bool, float]:
        conf = 1.0
        for part in self.all:
            ok, c = part.evaluate(results)
            if not ok:
                return False, 0.0
            conf = min(conf, c)
        return True, conf

    def signals(self) -> set[str]:
        return set().union(*(p.signals() for p in self.all))


class AnyOf(Strict):
    any: list[Rule] = Field(min_length=1)

    def evaluate(self, results: Mapping[str, SignalResult]) -> tuple[bool, float]:
        best = None
        for part in self.any:
            ok, c = part.evaluate(results)
            if ok and (best is None or c > best):
                best = c
        return (True, best) if best is not None else (False, 0.0)

    def signals(self) -> set[str]:
        return set().union(*(p.signals() for p in self.any))


class Not(Strict):
    not_: Rule = Field(alias="not")

    def evaluate(self, results: Mapping[str, SignalResult]) -> tuple[bool, float]:
        ok, c = self.not_.evaluate(results)
        return (False, 0.0) if ok else (True, 1.0 - c)

    def signals(self) -> set[str]:
        return self.not_.signals()


Rule = Union[Condition, AllOf, AnyOf, Not]  # noqa: UP007  (a runtime alias pydantic resolves)
for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()
