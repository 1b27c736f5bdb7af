"""Pick one model among the decision's candidates with the configured selector."""

from __future__ import annotations

from semrouter.config.schema import RouterConfig
from semrouter.context import LocalResponse, RequestContext
from semrouter.decide.selection import SELECTORS
from semrouter.pipeline import Stage


class SelectionStage(Stage):
    name = "selection"
    routing_only = True

    def __init__(self, config: RouterConfig) -> None:
        self.config = config

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        assert ctx.decision is not None
        cfg = ctx.decision.selection or self.config.routing.selection
        ctx.model, ctx.selection_scores = SELECTORS[cfg.algorithm](cfg).select(ctx.decision, self.config)
        return None
