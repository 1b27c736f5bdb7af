"""Stages and the one place that knows their order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semrouter.config.schema import RouterConfig
from semrouter.pipeline import Pipeline, Stage
from semrouter.stages.decision import DecisionStage
from semrouter.stages.enrich import EnrichStage
from semrouter.stages.guard import GuardPolicyStage, GuardStage
from semrouter.stages.parse import ParseStage
from semrouter.stages.selection import SelectionStage
from semrouter.stages.session import SessionStage
from semrouter.stages.signals import SignalStage
from semrouter.stages.tools import ToolStage
from semrouter.tenancy.stage import TenantStage

if TYPE_CHECKING:
    from semrouter.cache.service import CacheService


def build_pipeline(config: RouterConfig, *, cache: CacheService | None = None) -> Pipeline:
    """parse → [guard] → [signals] → decision → selection → [session] → [tenant] → [guard policy] → [cache] →
    enrich → [tools].

    Guards detect before the signals (their findings are signals rules can use) but apply their policy
    after selection, which may override it. The upstream call is the adapter's (the HTTP proxy forwards;
    Envoy forwards for ext_proc).

    ``cache`` is the long-lived cache backend service (the router keeps one across reloads); without it,
    an enabled cache gets a new one from the config.
    """
    stages: list[Stage] = [ParseStage()]
    g = config.guards
    guard = GuardStage(config) if g.pii.enabled or g.jailbreak.enabled or g.harmful.enabled else None
    if guard is not None:
        stages.append(guard)
    if config.signals:
        stages.append(SignalStage(config))
    stages += [DecisionStage(config), SelectionStage(config)]
    if config.sessions.enabled:
        stages.append(SessionStage(config))
    if config.tenancy is not None:
        stages.append(TenantStage())
    if guard is not None:
        stages.append(GuardPolicyStage(config, guard))
    if config.cache.enabled:
        from semrouter.cache.service import CacheService
        from semrouter.stages.cache import CacheStage

        stages.append(CacheStage(config, cache or CacheService.from_config(config.cache)))
    stages.append(EnrichStage())
    if any(d.tools is not None and d.tools.enabled for d in config.decisions):
        stages.append(ToolStage())
    return Pipeline(stages)


__all__ = ["build_pipeline"]
