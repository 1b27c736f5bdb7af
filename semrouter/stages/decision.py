"""Choose the decision for a routed request: the highest-priority decision whose rules match.

Ties in priority go to the higher rule confidence, then to config order. With no match the request
takes ``routing.default_decision``. The reported category is the decision's own ``category`` when set,
otherwise the domain signal's label.
"""

from __future__ import annotations

from semrouter.config.schema import DecisionConfig, RouterConfig
from semrouter.context import LocalResponse, RequestContext
from semrouter.pipeline import Stage


class DecisionStage(Stage):
    name = "decision"
    routing_only = True

    def __init__(self, config: RouterConfig) -> None:
        # stable sort: equal priorities keep config order
        self.ruled = sorted((d for d in config.decisions if d.rules is not None), key=lambda d: -d.priority)
        default = config.decision(config.routing.default_decision)
        assert default is not None  # guaranteed by config validation
        self.default = default
        self.domain_signals = [s.name for s in config.signals if s.type == "domain"]

    def choose(self, ctx: RequestContext) -> tuple[DecisionConfig, float]:
        best: tuple[DecisionConfig, float] | None = None
        for d in self.ruled:
            if best is not None and d.priority < best[0].priority:
                break  # sorted by priority: nothing later can win
            assert d.rules is not None
            ok, conf = d.rules.evaluate(ctx.signals)
            if ok and (best is None or conf > best[1]):
                best = (d, conf)
        return best or (self.default, 0.0)

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        ctx.decision, ctx.decision_confidence = self.choose(ctx)
        ctx.category = ctx.decision.category
        if ctx.category is None:
            for name in self.domain_signals:
                if name in ctx.signals:
                    ctx.category = ctx.signals[name].value
                    break
        return None
