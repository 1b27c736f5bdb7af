"""Selectors by the name a config gives them (``selection.algorithm``).

Kept apart from the selectors themselves so that a selector module may build on another (the learned
selector falls back to the cost-aware one) without an import circle through this table.
"""

from __future__ import annotations

from collections.abc import Callable

from semrouter.config.schema import SelectionConfig
from semrouter.decide.learned import LearnedSelector
from semrouter.decide.online import BanditSelector
from semrouter.decide.selection import CostAwareSelector, Selector, StaticSelector

__all__ = ["SELECTORS"]

SELECTORS: dict[str, Callable[[SelectionConfig], Selector]] = {
    "static": StaticSelector,
    "cost_aware": CostAwareSelector,
    "learned": LearnedSelector,
    "bandit": BanditSelector,
}
