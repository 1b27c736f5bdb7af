"""Pick one model among the decision's candidates with the configured selector."""

from __future__ import annotations

from semrouter.config.schema import RouterConfig
from semrouter.context import LocalResponse, RequestContext
from semrouter.decide.registry import SELECTORS
from semrouter.pipeline import Stage


class SelectionStage(Stage):
    name = "selection"
    routing_only = True

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        for cfg in [config.routing.selection, *(d.selection for d in config.decisions if d.selection)]:
            if cfg.algorithm == "learned":  # load (and check) learned selectors at start, not on a request
                from semrouter.decide.learned import load_selector_model

                model = load_selector_model(cfg.selector)
                unknown = sorted(set(cfg.tiers.values()) - set(model.columns))
                if unknown:
                    raise ValueError(f"selection.tiers names {unknown}; the selector knows {list(model.columns)}")

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        assert ctx.decision is not None
        cfg = ctx.decision.selection or self.config.routing.selection
        selector = SELECTORS[cfg.algorithm](cfg)
        # a RequestSelector reads the request (its embedding), not only config; looked up by attribute, since
        # isinstance() against a runtime-checkable Protocol costs ~20 us a request
        select_request = getattr(selector, "select_request", None)
        if select_request is not None:
            ctx.model, ctx.selection_scores = await select_request(ctx, ctx.decision, self.config)
        else:
            ctx.model, ctx.selection_scores = selector.select(ctx.decision, self.config)
        return None
