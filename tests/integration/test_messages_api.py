"""The real anthropic SDK's ``messages.create`` / ``messages.stream`` through the router to chat-completions
fake workers: the answer in Anthropic's shape (blocks, stop_reason, SSE events, errors) and, from the
worker's echo, what it was sent (routed model, system prompt, reasoning switch, tools)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic import Anthropic
from conftest import api_stack
from servers import Server

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
CALL = json.dumps({"id": "toolu_7", "name": "get_weather", "arguments": {"city": "Paris"}})


def _families(cfg: dict[str, Any]) -> None:
    cfg["models"][0]["family"] = "qwen3"
    cfg["models"][1]["family"] = "deepseek"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Server]]:
    with api_stack(tmp_path_factory.mktemp("messages"), "qwen-small", "deepseek-large", _families) as servers:
        yield servers


@pytest.fixture
def client(stack: tuple[Server, Server, Server]) -> Anthropic:
    for s in stack[1:]:
        s.clear()
    return Anthropic(base_url=stack[0].url, api_key="k", max_retries=0)


def sent(worker: Server) -> dict[str, Any]:
    [req] = worker.requests()
    assert req["path"] == "/v1/chat/completions"
    return req


def test_create_routes_and_translates(stack, client):
    _, small, large = stack
    raw = client.messages.with_raw_response.create(
        model="auto",
        max_tokens=100,
        system="Answer in French.",
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}],
    )
    msg = raw.parse()
    assert msg.model == "qwen-small" and raw.headers["x-vsr-selected-model"] == "qwen-small"
    assert msg.type == "message" and msg.role == "assistant" and msg.id.startswith("msg_")
    assert msg.stop_reason == "end_turn"
    assert [b.type for b in msg.content] == ["text"] and msg.content[0].text.startswith("Answer from qwen-small:")
    assert msg.usage.output_tokens == 16 and msg.usage.input_tokens > 0
    req = sent(small)
    echo = req["echo"]
    assert echo["model"] == "qwen-small"
    assert echo["system_prompt"] == "You are terse.\n\nAnswer in French."
    assert echo["chat_template_kwargs"] == {"enable_thinking": False}
    assert req["body"]["max_tokens"] == 100
    assert req["body"]["messages"][-1] == {"role": "user", "content": "What is 2+2?"}
    assert large.requests() == []


def test_max_tokens_stop_reason(stack, client):
    msg = client.messages.create(model="auto", max_tokens=3, messages=[{"role": "user", "content": "long please"}])
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 3


def test_thinking_becomes_the_family_switch(stack, client):
    _, small, _ = stack
    raw = client.messages.with_raw_response.create(
        model="auto",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Prove it."}],
    )
    msg = raw.parse()
    assert raw.headers["x-vsr-selected-reasoning"] == "on"
    echo = sent(small)["echo"]
    assert echo["chat_template_kwargs"] == {"enable_thinking": True} and echo["reasoning_effort"] is None
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "Let me think."


def test_thinking_on_explicit_model_uses_its_family(stack, client):
    _, _, large = stack
    msg = client.messages.create(
        model="deepseek-large",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert msg.model == "deepseek-large"
    assert sent(large)["echo"]["chat_template_kwargs"] == {"thinking": True}


def test_stream_with_thinking(stack, client):
    _, small, _ = stack
    with client.messages.stream(
        model="auto",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "stream it"}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "thinking" in kinds and "text" in kinds  # the helper's accumulated deltas
    assert final.model == "qwen-small" and final.stop_reason == "end_turn"
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me think."
    assert final.content[1].text.startswith("Answer from qwen-small:") and final.content[1].text.endswith(" w15")
    assert final.usage.output_tokens == 20  # 16 answer tokens + 4 reasoning ones, from the usage chunk
    req = sent(small)
    assert req["stream"] is True and req["completed"] is True
    assert req["echo"]["chat_template_kwargs"] == {"enable_thinking": True}


def test_raw_event_sequence(stack, client):
    stream = client.messages.create(
        model="auto", max_tokens=64, stream=True, messages=[{"role": "user", "content": "events"}]
    )
    kinds = [e.type for e in stream]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}


def test_tool_use_and_tool_result(stack, client):
    _, small, _ = stack
    msg = client.messages.create(
        model="auto",
        max_tokens=200,
        tools=TOOLS,
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        extra_headers={"x-fake-tool-call": CALL},
    )
    assert msg.stop_reason == "tool_use"
    [use] = msg.content
    assert use.type == "tool_use" and use.name == "get_weather" and use.id == "toolu_7"
    assert use.input == {"city": "Paris"}
    body = sent(small)["body"]
    assert body["tool_choice"] == "required"
    assert body["tools"][0]["function"]["parameters"] == TOOLS[0]["input_schema"]
    small.clear()
    client.messages.create(
        model="auto",
        max_tokens=200,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_7", "name": "get_weather", "input": {"city": "Paris"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_7", "content": "18C"}]},
        ],
    )
    messages = sent(small)["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert messages[3] == {"role": "tool", "tool_call_id": "toolu_7", "content": "18C"}


def test_streamed_tool_use_input_json_delta(stack, client):
    with client.messages.stream(
        model="auto",
        max_tokens=200,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        extra_headers={"x-fake-tool-call": CALL},
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert deltas and all(e.delta.type == "input_json_delta" for e in deltas)
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.input) for b in final.content if b.type == "tool_use"] == [("tool_use", {"city": "Paris"})]


def test_errors_in_anthropic_shape(stack, client):
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model="auto", max_tokens=10, messages=[], extra_body={"container": "c1"})
    assert err.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": err.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert "'container'" in err.value.body["error"]["message"]  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as nf:
        client.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert nf.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert stack[1].requests() == []  # refused before any worker was called
    with pytest.raises(anthropic.InternalServerError) as worker:
        client.messages.create(
            model="auto",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-status": "500"},
        )
    assert worker.value.body["type"] == "error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        client.messages.create(
            model="auto",
            max_tokens=10,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            messages=[{"role": "user", "content": "x"}],
        )
    assert "tools[0].type" in server_tool.value.body["error"]["message"]  # type: ignore[index]
