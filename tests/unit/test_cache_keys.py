"""Partition keys: everything that changes an answer separates entries; nothing else does."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from semrouter.cache.config import CacheConfig
from semrouter.cache.keys import cacheability, partition_key, partition_prefix, tenant_token
from semrouter.config.schema import DecisionConfig

DECISION = DecisionConfig.model_validate({"name": "general", "models": [{"model": "m1"}]})
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "auto",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        **extra,
    }


def key(b: dict[str, Any], *, model: str | None = "m1", decision: DecisionConfig | None = DECISION,
        tenant: str | None = "acme", api: str = "chat/completions", scope: str = "user") -> str:  # fmt: skip
    return partition_key(api=api, body=b, model=model, decision=decision, tenant=tenant, scope=scope)


def test_format_tenant_token_then_digest() -> None:
    k = key(body())
    token, digest = k.split(":")
    assert token == hashlib.sha256(b"acme").hexdigest()[:16] == tenant_token("acme")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert k.startswith(partition_prefix("acme"))
    assert key(body(), tenant=None).startswith(":") and tenant_token(None) == tenant_token("") == ""
    assert partition_prefix(None) == ":"


def test_key_order_and_number_spelling_do_not_matter() -> None:
    a = body(tools=TOOLS, temperature=0, max_tokens=100, response_format={"type": "json_object"})
    reordered = {k: a[k] for k in reversed(list(a))}
    reordered["messages"] = [{k: m[k] for k in reversed(list(m))} for m in a["messages"]]
    tool = copy.deepcopy(TOOLS[0])
    tool["function"] = {k: tool["function"][k] for k in reversed(list(tool["function"]))}
    reordered["tools"] = [tool]
    reordered["temperature"] = 0.0
    reordered["max_tokens"] = 100.0
    assert key(a) == key(reordered)


def test_last_user_text_and_transport_fields_are_not_in_the_key() -> None:
    """The embedding covers the question; stream/metadata do not change the answer."""
    other_question = body()
    other_question["messages"][-1]["content"] = "Name France's capital city."
    assert key(body()) == key(other_question)
    assert key(body()) == key(body(stream=True, stream_options={"include_usage": True}, metadata={"a": 1}))
    assert key(body()) == key(body(n=1, logprobs=False))  # defaults spelled out


def test_cache_scope_user_separates_end_users_within_a_tenant() -> None:
    """Issue 15.6: with scope "user" (the default) two users of one tenant never share an answer; requests
    naming no user share among themselves; scope "tenant" shares across users; tenants always separate."""
    u1, u2 = body(user="u1"), body(user="u2")
    assert key(u1) != key(u2)
    assert key(u1) == key(body(user="u1", stream=True))
    assert key(body(safety_identifier="u1")) != key(body(safety_identifier="u2"))
    assert key(body()) == key(body(user=""))
    assert key(u1, scope="tenant") == key(u2, scope="tenant") == key(body(), scope="tenant")
    assert key(u1, scope="tenant") != key(u1, scope="tenant", tenant="other")


def _changed(mutate: Any) -> dict[str, Any]:
    b = body()
    mutate(b)
    return b


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda: {"tenant": "other"}, id="tenant"),
        pytest.param(lambda: {"tenant": None}, id="no-tenant"),
        pytest.param(lambda: {"model": "m2"}, id="model"),
        pytest.param(lambda: {"api": "completions"}, id="api"),
        pytest.param(lambda: {"decision": None}, id="passthrough"),
        pytest.param(
            lambda: {"decision": DecisionConfig.model_validate({"name": "math", "models": [{"model": "m1"}]})},
            id="decision-name",
        ),
        pytest.param(
            lambda: {
                "decision": DecisionConfig.model_validate(
                    {"name": "general", "models": [{"model": "m1"}], "system_prompt": {"text": "Be formal."}}
                )
            },
            id="decision-system-prompt",
        ),
        pytest.param(
            lambda: {
                "decision": DecisionConfig.model_validate(
                    {"name": "general", "models": [{"model": "m1"}], "use_reasoning": True}
                )
            },
            id="decision-reasoning",
        ),
    ],
)
def test_each_routing_component_changes_the_key(variant: Any) -> None:
    assert key(body(), **variant()) != key(body())


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b["messages"].__setitem__(0, {"role": "system", "content": "Be verbose."}), id="system"),
        pytest.param(lambda b: b["messages"].pop(0), id="no-system"),
        pytest.param(lambda b: b["messages"][2].__setitem__("content", "Hey."), id="earlier-answer"),
        pytest.param(lambda b: b["messages"][1].__setitem__("content", "Hello"), id="earlier-question"),
        pytest.param(lambda b: b["messages"][0].__setitem__("role", "developer"), id="role"),
        pytest.param(lambda b: b["messages"][1].__setitem__("name", "bob"), id="name"),
        pytest.param(lambda b: b["messages"][-1].__setitem__("name", "bob"), id="last-user-name"),
        pytest.param(
            lambda b: b["messages"][2].__setitem__(
                "tool_calls",
                [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"X"}'}}],
            ),
            id="tool-call",
        ),
        pytest.param(
            lambda b: b["messages"].append({"role": "tool", "tool_call_id": "c1", "content": "sunny"}),
            id="tool-result-after-last-user",
        ),
        pytest.param(
            lambda b: b["messages"][-1].__setitem__(
                "content",
                [
                    {"type": "text", "text": "What is the capital of France?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            ),
            id="image-in-last-user",
        ),
        pytest.param(lambda b: b.__setitem__("tools", TOOLS), id="tools"),
        pytest.param(lambda b: b.__setitem__("tool_choice", "none"), id="tool_choice"),
        pytest.param(lambda b: b.__setitem__("parallel_tool_calls", False), id="parallel_tool_calls"),
        pytest.param(lambda b: b.__setitem__("response_format", {"type": "json_object"}), id="response_format"),
        pytest.param(lambda b: b.__setitem__("max_tokens", 5), id="max_tokens"),
        pytest.param(lambda b: b.__setitem__("max_completion_tokens", 5), id="max_completion_tokens"),
        pytest.param(lambda b: b.__setitem__("stop", ["\n"]), id="stop"),
        pytest.param(lambda b: b.__setitem__("top_p", 0.5), id="top_p"),
        pytest.param(lambda b: b.__setitem__("temperature", 0.2), id="temperature"),
        pytest.param(lambda b: b.__setitem__("presence_penalty", 0.5), id="presence_penalty"),
        pytest.param(lambda b: b.__setitem__("frequency_penalty", 0.5), id="frequency_penalty"),
        pytest.param(lambda b: b.__setitem__("reasoning_effort", "high"), id="reasoning_effort"),
        pytest.param(
            lambda b: b.__setitem__("chat_template_kwargs", {"enable_thinking": True}), id="chat_template_kwargs"
        ),
        pytest.param(lambda b: b.__setitem__("some_new_vllm_param", 3), id="unknown-param"),
    ],
)
def test_each_request_component_changes_the_key(mutate: Any) -> None:
    assert key(_changed(mutate)) != key(body())


def test_cacheability() -> None:
    cfg = CacheConfig(max_temperature=0.7)
    ok = cacheability(body(), {}, cfg)
    assert ok.lookup and ok.store and ok.reason is None
    assert cacheability(body(temperature=0.7), {}, cfg).lookup
    cases: list[tuple[dict[str, Any], str]] = [
        ({"temperature": 0.8}, "temperature"),
        ({"n": 2}, "n"),
        ({"seed": 0}, "seed"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "logprobs"),
    ]
    for extra, reason in cases:
        c = cacheability(body(**extra), {}, cfg)
        assert (c.lookup, c.store, c.reason) == (False, False, reason), extra
    for headers in ({"cache-control": "no-store"}, {"x-vsr-cache-control": "max-age=0, No-Store"}):
        c = cacheability(body(), headers, cfg)
        assert (c.lookup, c.store, c.reason) == (False, False, "no-store")
    c = cacheability(body(), {"cache-control": "no-cache"}, cfg)
    assert (c.lookup, c.store, c.reason) == (False, True, "no-cache")
    c = cacheability(body(), {"cache-control": "no-cache", "x-vsr-cache-control": "no-store"}, cfg)
    assert (c.lookup, c.store) == (False, False)


def _decision(name: str, **settings: Any) -> DecisionConfig:
    return DecisionConfig.model_validate({"name": name, "models": [{"model": "m1"}], **settings})


def test_by_effect_two_decisions_with_the_same_effect_share_a_key() -> None:
    """``cross_decision``: routing metadata (name, rules, priority, category, candidate models, cache policy)
    does not separate; anything that changes the request the model sees does."""
    a = _decision("cooking", system_prompt={"text": "Be brief."}, rules={"signal": "food"}, priority=3)
    b = _decision("general", system_prompt={"text": "Be brief."}, category="other", cache={"ttl_s": 60})

    def key(d: DecisionConfig, tenant: str | None = "t", by_effect: bool = True, **extra: Any) -> str:
        return partition_key(api="chat", body=body(**extra), model="m1", decision=d, tenant=tenant, by_effect=by_effect)

    assert key(a) == key(b)
    assert key(a, by_effect=False) != key(b, by_effect=False)  # keyed by name: never shared
    assert key(a) != key(b, tenant="other")  # the tenant always separates
    assert key(a) != key(b, max_tokens=10)  # and so do request parameters
    for other in (
        _decision("x", system_prompt={"text": "Answer like a pirate."}),
        _decision("x", system_prompt={"text": "Be brief.", "mode": "replace"}),
        _decision("x", system_prompt={"text": "Be brief."}, use_reasoning=True),
        _decision("x", system_prompt={"text": "Be brief."}, tools={"enabled": True}),
    ):
        assert key(a) != key(other), other
    # the reasoning effort only matters when the decision reasons
    assert key(a) == key(_decision("y", system_prompt={"text": "Be brief."}, reasoning_effort="high"))
