"""A one-model config with both attack and harmful guards on, in flag / allow mode (so every verdict is read from
the signals, none ends the request), and a runner that returns the request and the guard stage: shared by the
tests of the guard stage's second looks (the multilingual encoder, the reader)."""

from __future__ import annotations

from typing import Any

import orjson

from semrouter.config import parse_config
from semrouter.context import ApiKind, RequestContext
from semrouter.stages import build_pipeline
from semrouter.stages.guard import GuardStage


def guards_config(**sections: str) -> Any:
    """The config, with each keyword an extra ``guards`` section in YAML flow style (``reader="{enabled: false}"``)."""
    extra = "".join(f"  {name}: {value}\n" for name, value in sections.items())
    return parse_config(
        f"""
models:
  - name: small
    endpoints: [{{url: "http://127.0.0.1:9"}}]
decisions:
  - name: default
    models: [{{model: small}}]
guards:
  jailbreak: {{enabled: true, action: flag}}
  harmful: {{enabled: true, actions: {{hate: allow, crime_fraud: allow, violence_weapons: allow, sexual: allow,
             sexual_minors: allow}}}}
{extra}""",
        "r.yaml",
    )


async def run_guards(cfg: Any, *turns: str) -> tuple[RequestContext, GuardStage]:
    """One chat request through the real pipeline: the user ``turns`` with an assistant reply between each."""
    pipeline = build_pipeline(cfg)
    guard = next(s for s in pipeline.stages if isinstance(s, GuardStage))
    messages: list[dict[str, str]] = []
    for t in turns:
        messages += [{"role": "user", "content": t}, {"role": "assistant", "content": "ok"}]
    body = {"model": "auto", "messages": messages[:-1]}
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), {}, cfg)
    await pipeline.run_request(ctx)
    return ctx, guard
