"""Pick one model among the decision's candidates with the configured selector, then (when configured)
let the pool's live state change a near tie (:mod:`semrouter.decide.pool`).

Before the selector runs, candidates whose ``models[].context_window`` cannot hold the request (its
estimated prompt tokens plus ``max_tokens`` / ``max_completion_tokens``) are ruled out; when none would be
left, the one with the largest window is kept (the worker then says whether it fits). Either is reported:
``x-vsr-selection-reason: context`` (``context_overflow`` when nothing fits), and the decision log's
``context_tokens`` / ``context_excluded``. The estimate is the ``context_length`` signal's (~4 characters
per token, one per CJK character), and it is only computed when the body is large enough that a window
could be at stake (a prompt cannot hold more tokens than bytes): requests well inside every window pay
one comparison.

Selectors are built once per config snapshot (one per ``selection`` block), not per request: the
bandit's evidence lives in the router's :class:`~semrouter.decide.online.Learning`, which the router
attaches to each new pipeline (``attach_learning``) so that a reload keeps it.
"""

from __future__ import annotations

import math
from typing import Any

from semrouter import cpu
from semrouter.config.schema import DecisionConfig, RouterConfig, SelectionConfig
from semrouter.context import LocalResponse, RequestContext, prompt_text
from semrouter.decide.online import BanditSelector, Learning, OutcomeSniffer, SelectionNote
from semrouter.decide.pool import pool_choice
from semrouter.decide.registry import SELECTORS
from semrouter.decide.selection import Selector
from semrouter.pipeline import Stage
from semrouter.signals.request import estimate_tokens

DEFAULT_STALE_S = 5.0
REASON_HEADER = "x-vsr-selection-reason"


def answer_cap(body: dict[str, Any]) -> int:
    """The answer's token cap the client asked for (0 when none: the worker's default is unknown here)."""
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else 0


def prompt_tokens(body: dict[str, Any]) -> int:
    return estimate_tokens(prompt_text(body))


class SelectionStage(Stage):
    name = "selection"
    routing_only = True

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.learning: Learning | None = None
        self._windows = {m.name: m.context_window for m in config.models if m.context_window is not None}
        self._selectors: dict[int, tuple[SelectionConfig, Selector]] = {}
        for cfg in [config.routing.selection, *(d.selection for d in config.decisions if d.selection)]:
            if cfg.algorithm == "learned" or (cfg.algorithm == "bandit" and cfg.bandit.prior == "learned"):
                # load (and check) learned selectors at start, not on a request
                from semrouter.decide.learned import load_selector_model

                model = load_selector_model(cfg.selector)
                unknown = sorted(set(cfg.tiers.values()) - set(model.columns))
                if unknown:
                    raise ValueError(f"selection.tiers names {unknown}; the selector knows {list(model.columns)}")
            self._selectors[id(cfg)] = (cfg, SELECTORS[cfg.algorithm](cfg))

    def attach_learning(self, learning: Learning) -> None:
        """The router's learning state: the bandits' evidence, the pool's latency and endpoints."""
        self.learning = learning
        for _, selector in self._selectors.values():
            if isinstance(selector, BanditSelector):
                selector.learning = learning

    async def _fitting(self, ctx: RequestContext, decision: DecisionConfig) -> DecisionConfig:
        """The decision with only the candidates whose context window holds the request (see the module
        docstring); the decision itself when nothing is ruled out."""
        windows = self._windows
        if not windows or len(decision.models) < 2:
            return decision
        limits = [windows[m.model] for m in decision.models if m.model in windows]
        if not limits:
            return decision
        cap = answer_cap(ctx.body)
        if len(ctx.raw_body) + cap <= min(limits):  # no prompt holds more tokens than its body has bytes
            return decision
        need = await cpu.run(len(ctx.raw_body), prompt_tokens, ctx.body) + cap
        fits = [m for m in decision.models if windows.get(m.model, math.inf) >= need]
        if len(fits) == len(decision.models):
            return decision
        reason = "context"
        if not fits:
            widest = max(windows.get(m.model, math.inf) for m in decision.models)
            fits = [m for m in decision.models if windows.get(m.model, math.inf) == widest][:1]
            reason = "context_overflow"
        ctx.obs["selection_reason"] = reason
        ctx.obs["context_tokens"] = need
        kept = {m.model for m in fits}
        ctx.obs["context_excluded"] = ",".join(m.model for m in decision.models if m.model not in kept)
        return decision.model_copy(update={"models": fits})

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        decision = ctx.decision
        assert decision is not None
        decision = await self._fitting(ctx, decision)
        wanted = decision.selection or self.config.routing.selection
        entry = self._selectors.get(id(wanted))
        if entry is None:  # a selection block this snapshot did not build (a copy): a selector for this request
            entry = (wanted, SELECTORS[wanted.algorithm](wanted))
            if isinstance(entry[1], BanditSelector):
                entry[1].learning = self.learning
        cfg, selector = entry
        # a RequestSelector reads the request (its embedding), not only config; looked up by attribute, since
        # isinstance() against a runtime-checkable Protocol costs ~20 us a request
        select_request = getattr(selector, "select_request", None)
        if select_request is not None:
            model, scores = await select_request(ctx, decision, self.config)
        else:
            model, scores = selector.select(decision, self.config)
        learning = self.learning
        pool_aware = cfg.pool_aware
        if pool_aware is not None and learning is not None and learning.fleet is not None and len(scores) > 1:
            pools = learning.fleet.pools
            endpoints = {m: pools[m].endpoints for m in scores if m in pools}
            model, reason, _ = pool_choice(model, scores, endpoints, learning.latency, pool_aware)
            if reason is not None:
                ctx.obs["selection_reason"] = reason
        ctx.model, ctx.selection_scores = model, scores
        reason_seen = ctx.obs.get("selection_reason")
        if isinstance(reason_seen, str):
            ctx.response_headers[REASON_HEADER] = reason_seen
        if learning is not None:
            learns = cfg.algorithm == "bandit"
            sniffer = None
            if learns:  # finish_reason and empty answers are outcomes only a bandit uses
                sniffer = OutcomeSniffer()
                ctx.response_filters.append(sniffer)
            stale = pool_aware.stale_s if pool_aware is not None else DEFAULT_STALE_S
            ctx.stage_state["selection"] = SelectionNote(model, learns, sniffer, stale)
        return None
