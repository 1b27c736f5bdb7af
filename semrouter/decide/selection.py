"""Model selection: pick one of a decision's candidate models.

Selectors are registered by the name used in config (``algorithm``) in :mod:`semrouter.decide.registry`;
a new one (a bandit on feedback, a cascade) implements the same ``select`` and adds one line there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from semrouter.config.schema import DecisionConfig, RouterConfig, SelectionConfig

if TYPE_CHECKING:
    from semrouter.context import RequestContext


class Selector(Protocol):
    def select(self, decision: DecisionConfig, config: RouterConfig) -> tuple[str, dict[str, float]]:
        """Return the chosen model name and each candidate's utility (for the decision log)."""
        ...


class RequestSelector(Protocol):
    """A selector that reads the request itself (its embedding, its text), not only the config. The stage
    finds ``select_request`` by attribute: ``isinstance`` against a runtime-checkable Protocol costs ~20 us."""

    async def select_request(
        self, ctx: RequestContext, decision: DecisionConfig, config: RouterConfig
    ) -> tuple[str, dict[str, float]]: ...


class StaticSelector:
    """Best quality score; ties go to the candidate listed first (config order is intent)."""

    def __init__(self, cfg: SelectionConfig) -> None:
        self.cfg = cfg

    def select(self, decision: DecisionConfig, config: RouterConfig) -> tuple[str, dict[str, float]]:
        scores = {m.model: m.score for m in decision.models}
        return max(decision.models, key=lambda m: m.score).model, scores


class CostAwareSelector:
    """Quality minus ``cost_weight`` times price relative to the dearest candidate.

    Price is the mean of prompt and completion price per 1M tokens, so a model twice as expensive
    must be clearly better to win; with equal prices this is the static choice.
    """

    def __init__(self, cfg: SelectionConfig) -> None:
        self.cfg = cfg

    def select(self, decision: DecisionConfig, config: RouterConfig) -> tuple[str, dict[str, float]]:
        prices = {}
        for m in decision.models:
            model = config.model(m.model)
            p = model.pricing if model else None
            prices[m.model] = (p.prompt_per_1m + p.completion_per_1m) / 2 if p else 0.0
        top = max(prices.values()) or 1.0
        utility = {m.model: m.score - self.cfg.cost_weight * prices[m.model] / top for m in decision.models}
        best = max(decision.models, key=lambda m: utility[m.model])
        return best.model, utility
