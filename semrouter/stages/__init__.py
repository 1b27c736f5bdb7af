"""Stages and the one place that knows their order."""

from __future__ import annotations

from semrouter.config.schema import RouterConfig
from semrouter.pipeline import Pipeline
from semrouter.stages.decision import DecisionStage
from semrouter.stages.enrich import EnrichStage
from semrouter.stages.parse import ParseStage
from semrouter.stages.selection import StaticSelection


def build_pipeline(config: RouterConfig) -> Pipeline:
    """parse → [guard] → [cache] → signals → decision → selection → enrich; the upstream call is the
    adapter's (the HTTP proxy forwards, Envoy forwards for ext_proc)."""
    return Pipeline([ParseStage(), DecisionStage(), StaticSelection(), EnrichStage()])


__all__ = ["build_pipeline"]
