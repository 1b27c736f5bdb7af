"""Stages and the one place that knows their order."""

from __future__ import annotations

from semrouter.config.schema import RouterConfig
from semrouter.pipeline import Pipeline, Stage
from semrouter.stages.decision import DecisionStage
from semrouter.stages.enrich import EnrichStage
from semrouter.stages.parse import ParseStage
from semrouter.stages.selection import SelectionStage
from semrouter.stages.signals import SignalStage
from semrouter.stages.tools import ToolStage


def build_pipeline(config: RouterConfig) -> Pipeline:
    """parse → [guard] → [cache] → signals → decision → selection → enrich; the upstream call is the
    adapter's (the HTTP proxy forwards, Envoy forwards for ext_proc)."""
    stages: list[Stage] = [ParseStage()]
    if config.signals:
        stages.append(SignalStage(config))
    stages += [DecisionStage(config), SelectionStage(config), EnrichStage()]
    if any(d.tools is not None and d.tools.enabled for d in config.decisions):
        stages.append(ToolStage())
    return Pipeline(stages)


__all__ = ["build_pipeline"]
