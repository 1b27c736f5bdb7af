"""Rewrite the request for the chosen model: name, system prompt and reasoning switch.

Reasoning switches differ per model family (qwen3 ``chat_template_kwargs.enable_thinking``,
deepseek ``chat_template_kwargs.thinking``, gpt-oss/OpenAI ``reasoning_effort``); families are config
data (:class:`ReasoningFamily`), so supporting a new family needs no code.
"""

from __future__ import annotations

from typing import Any

from semrouter.config.schema import ReasoningFamily, SystemPrompt
from semrouter.context import ApiKind, LocalResponse, RequestContext
from semrouter.pipeline import Stage


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = body
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def remove_path(body: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = body
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)


def apply_reasoning(body: dict[str, Any], family: ReasoningFamily, enabled: bool, effort: str) -> None:
    if family.kind == "bool":
        set_path(body, family.path, enabled)  # explicit False: qwen3 templates think by default
    elif enabled:
        set_path(body, family.path, effort)
    elif family.off_value is not None:
        set_path(body, family.path, family.off_value)
    else:
        remove_path(body, family.path)


def client_reasoning(body: dict[str, Any], family: ReasoningFamily) -> tuple[bool, str | None]:
    """Whether the request as the client wrote it asks for reasoning, in ``family``'s dialect."""
    node: Any = body
    for key in family.path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    if family.kind == "bool":
        return node is True, None
    on = isinstance(node, str) and node != family.off_value
    return on, node if on else None


def inject_system_prompt(messages: list[dict[str, Any]], prompt: SystemPrompt) -> None:
    """insert: ours before the client's system text; append: after it; replace: ours only."""
    system_idx = [i for i, m in enumerate(messages) if m.get("role") in ("system", "developer")]
    if prompt.mode == "replace":
        for i in reversed(system_idx):
            del messages[i]
        messages.insert(0, {"role": "system", "content": prompt.text})
        return
    if not system_idx:
        messages.insert(0, {"role": "system", "content": prompt.text})
        return
    first = messages[system_idx[0]]
    existing = first.get("content")
    if isinstance(existing, list):  # content parts: ours becomes a text part before or after them
        part = {"type": "text", "text": prompt.text}
        first["content"] = [part, *existing] if prompt.mode == "insert" else [*existing, part]
    elif isinstance(existing, str) and existing:
        first["content"] = f"{prompt.text}\n\n{existing}" if prompt.mode == "insert" else f"{existing}\n\n{prompt.text}"
    else:
        first["content"] = prompt.text


class EnrichStage(Stage):
    name = "enrich"
    routing_only = True

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        assert ctx.model is not None and ctx.decision is not None
        body = ctx.body
        body["model"] = ctx.model
        decision = ctx.decision
        if ctx.api is ApiKind.CHAT:
            if decision.system_prompt is not None:
                inject_system_prompt(body["messages"], decision.system_prompt)
                ctx.system_prompt_injected = True
            model_cfg = ctx.config.model(ctx.model)
            family = ctx.config.reasoning_families.get(model_cfg.family) if model_cfg and model_cfg.family else None
            respect = ctx.client_reasoning and ctx.config.reasoning.client_fields == "respect"
            ctx.reasoning = decision.use_reasoning
            ctx.reasoning_effort = decision.reasoning_effort if decision.use_reasoning else None
            if family is not None and not respect:
                apply_reasoning(body, family, decision.use_reasoning, decision.reasoning_effort)
            elif family is not None:  # the client's own fields stand: report what they ask for
                ctx.reasoning, ctx.reasoning_effort = client_reasoning(body, family)
        ctx.body_modified = True
        return None
