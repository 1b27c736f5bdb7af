"""Pick one model among the decision's candidates."""

from __future__ import annotations

from semrouter.context import LocalResponse, RequestContext
from semrouter.pipeline import Stage


class StaticSelection(Stage):
    """The highest-scored candidate; ties go to the one listed first (config order is intent)."""

    name = "selection"
    routing_only = True

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        assert ctx.decision is not None
        best = max(ctx.decision.models, key=lambda m: m.score)  # max keeps the first of equal scores
        ctx.model = best.model
        return None
