"""Trim a routed chat request's ``tools`` to the ones relevant to it (per-decision ``tools`` config).

Runs after enrichment, so it sees the final decision. Optional: if ranking fails (say the embedding
model is unavailable) the request keeps every tool it sent, which is what it would get without us.
The outcome goes to ``ctx.tools_selected`` (the ``x-vsr-tools-selected`` header) and, with every
tool's score, to ``ctx.signals["tool_selection"]`` so the dry run and the decision log show why.
"""

from __future__ import annotations

from typing import Any

from semrouter.context import ApiKind, LocalResponse, RequestContext
from semrouter.enrich.tools import called_tools, forced_tool, select_tools
from semrouter.pipeline import Stage
from semrouter.signals.result import SignalResult

RESULT_NAME = "tool_selection"
# fields that are errors on a request without tools
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")


class ToolStage(Stage):
    name = "tools"
    optional = True
    routing_only = True
    uses_embedding = True  # ranks tools against the request embedding

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        cfg = ctx.decision.tools if ctx.decision is not None else None
        if cfg is None or not cfg.enabled or ctx.api is not ApiKind.CHAT:
            return None
        body = ctx.body
        raw = body.get("tools")
        tools: list[Any] = raw if isinstance(raw, list) else []
        if not tools and not cfg.catalog:
            return None
        if not ctx.text.strip():
            return None  # nothing to rank against (e.g. no user message): keep what the client sent
        choice = body.get("tool_choice")
        if choice == "none" and not tools:
            return None  # the client asked for no tool calls: adding catalog tools would be pointless
        pinned = called_tools(body.get("messages"))
        forced = forced_tool(choice)
        if forced is not None:
            pinned.add(forced)
        sel = await select_tools(await ctx.embedding(), tools, cfg, pinned=pinned, required=choice == "required")
        if RESULT_NAME not in ctx.signals:  # never overwrite a configured signal of the same name
            best = max(sel.scores.values(), default=0.0)
            ctx.signals[RESULT_NAME] = SignalResult(bool(sel.selected), max(0.0, best), detail=sel.detail())
        if not tools and not sel.tools:
            return None  # no tools before, none added: the request is unchanged
        if sel.tools:
            body["tools"] = sel.tools
        else:
            for key in _TOOL_FIELDS:
                body.pop(key, None)
        ctx.tools_selected = sel.selected
        ctx.body_modified = True
        return None
