"""Choose the decision for a routed request.

Until signal-driven rules exist every routed request takes the configured default decision; the
stage is the seam where rule evaluation plugs in, so the rest of the pipeline already works against
a real :class:`DecisionConfig`.
"""

from __future__ import annotations

from semrouter.context import LocalResponse, RequestContext
from semrouter.pipeline import Stage


class DecisionStage(Stage):
    name = "decision"
    routing_only = True

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        decision = ctx.config.decision(ctx.config.routing.default_decision)
        assert decision is not None  # guaranteed by config validation
        ctx.decision = decision
        ctx.category = decision.category
        return None
