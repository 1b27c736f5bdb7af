"""The real openai SDK's ``responses.create`` through the router to a worker that speaks Responses natively.

``resp-small`` has ``api: responses``: a ``/v1/responses`` request routed to it must reach the worker as
``POST /v1/responses``, built from what the pipeline made of it (routed model, the decision's system prompt
in ``instructions``, the reasoning switch as ``reasoning.effort``), and the worker's own answer must reach
the client (its ``echo`` field, which no translation writes, proves it), with only the router's id and the
routed model set. ``chat-large`` speaks chat only. One router and two workers serve the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import api_stack
from gateway import sample, scrape
from openai import OpenAI
from servers import Server, free_port, http_json

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
CALL = json.dumps({"id": "call_7", "name": "get_weather", "arguments": {"city": "Paris"}})


def _native(cfg: dict[str, Any]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: its requests fall back to chat-large
    cfg["models"].append({"name": "resp-dead", "endpoints": [{"url": dead}]})
    cfg["models"][0].update(family="qwen3", api="responses")
    cfg["models"][2].update(api="responses", fallback=["chat-large"])
    cfg["cache"] = {"enabled": True}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Server]]:
    with api_stack(tmp_path_factory.mktemp("responses_native"), "resp-small", "chat-large", _native) as servers:
        yield servers


@pytest.fixture
def client(stack: tuple[Server, Server, Server]) -> OpenAI:
    for s in stack[1:]:
        s.clear()
    return OpenAI(base_url=stack[0].url + "/v1", api_key="k", max_retries=0)


def sent(worker: Server, path: str = "/v1/responses") -> dict[str, Any]:
    [req] = worker.requests()
    assert req["path"] == path
    return req


def test_native_request_carries_the_pipeline_and_the_answer_is_the_workers(stack, client):
    _, small, large = stack
    raw = client.responses.with_raw_response.create(
        model="auto",
        instructions="Answer in French.",
        input="What is 2+2? Thx, asking for my kid's homework lol",
        max_output_tokens=64,
        metadata={"ticket": "42"},
        reasoning={"summary": "auto"},
    )
    resp = raw.parse()
    body = sent(small)["body"]
    assert body["model"] == "resp-small"
    assert body["instructions"] == "You are terse.\n\nAnswer in French."  # the decision's prompt, merged
    assert body["reasoning"] == {"effort": "none", "summary": "auto"}  # use_reasoning: false; summary kept
    assert body["max_output_tokens"] == 64 and body["metadata"] == {"ticket": "42"}
    assert body["store"] is False and "previous_response_id" not in body  # the router keeps the conversation
    assert body["input"] == [
        {"type": "message", "role": "user", "content": "What is 2+2? Thx, asking for my kid's homework lol"}
    ]
    assert large.requests() == []
    # The client got the worker's own Response: its echo field, its usage; the router's id and model.
    assert raw.headers["x-vsr-selected-model"] == "resp-small" and raw.headers["x-vsr-upstream-api"] == "responses"
    assert resp.model == "resp-small" and resp.id.startswith("resp_") and not resp.id.startswith("resp_worker")
    assert resp.to_dict()["echo"]["instructions"] == body["instructions"]
    assert resp.instructions == "Answer in French."  # the client's, not the system prompt the router added
    assert client.responses.retrieve(resp.id).to_dict() == resp.to_dict()  # kept as the client got it
    assert resp.output_text.startswith("Answer from resp-small:")
    assert resp.usage is not None and resp.usage.output_tokens == 16
    assert resp.store is True


def test_reasoning_effort_reaches_the_worker_as_effort(stack, client):
    _, small, _ = stack
    raw = client.responses.with_raw_response.create(model="auto", input="Prove it.", reasoning={"effort": "high"})
    assert raw.headers["x-vsr-selected-reasoning"] == "on"
    body = sent(small)["body"]
    assert body["reasoning"] == {"effort": "high"}
    assert "chat_template_kwargs" not in body and "reasoning_effort" not in body  # chat's fields stay out


def test_stream_is_relayed_event_by_event(stack, client):
    _, small, _ = stack
    events = list(client.responses.create(model="auto", input="Count, please", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 16
    assert [e.sequence_number for e in events] == list(range(len(events)))  # the worker's own numbering
    created, done = events[0].response, events[-1].response
    assert created.id == done.id and done.id.startswith("resp_") and not done.id.startswith("resp_worker")
    assert created.model == done.model == "resp-small"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == done.output_text and text.startswith("Answer from resp-small:")
    assert done.to_dict()["echo"]["model"] == "resp-small"
    assert sent(small)["body"]["stream"] is True


def test_previous_response_id_is_served_from_the_routers_store(stack, client):
    _, small, _ = stack
    first = client.responses.create(model="auto", input="My name is Ada.", stream=True)
    first_id = next(e for e in first if e.type == "response.completed").response.id
    small.clear()
    follow = client.responses.create(model="auto", previous_response_id=first_id, input="What's my name?")
    assert follow.previous_response_id == first_id
    body = sent(small)["body"]
    assert "previous_response_id" not in body  # the worker keeps nothing: the history is in the input
    assert [i.get("role") for i in body["input"]] == ["user", "assistant", "user"]
    assert body["input"][1]["content"][0]["text"].startswith("Answer from resp-small:")
    small.clear()
    again = client.responses.create(model="auto", previous_response_id=follow.id, input="Sure?")
    assert [i.get("role") for i in sent(small)["body"]["input"]] == ["user", "assistant"] * 2 + ["user"]
    assert again.id not in (first_id, follow.id)


def test_tool_call_and_its_output_round_trip(stack, client):
    _, small, _ = stack
    resp = client.responses.create(
        model="auto", input="Weather in Paris?", tools=TOOLS, extra_headers={"x-fake-tool-call": CALL}
    )
    [call] = resp.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id == "call_7"
    assert sent(small)["body"]["tools"][0]["name"] == "get_weather"
    small.clear()
    client.responses.create(
        model="auto",
        previous_response_id=resp.id,
        input=[{"type": "function_call_output", "call_id": "call_7", "output": '{"temp": 21}'}],
        tools=TOOLS,
    )
    items = sent(small)["body"]["input"]
    assert items[1] == {
        "type": "function_call",
        "call_id": "call_7",
        "name": "get_weather",
        "arguments": call.arguments,
    }
    assert items[2] == {"type": "function_call_output", "call_id": "call_7", "output": '{"temp": 21}'}


def test_chat_clients_and_chat_only_models_get_chat(stack, client):
    _, small, large = stack
    chat = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert chat.model == "resp-small"
    sent(small, "/v1/chat/completions")  # api: responses serves Responses clients natively, others as chat
    small.clear()
    raw = client.responses.with_raw_response.create(model="chat-large", input="hi")
    resp = raw.parse()
    assert resp.model == "chat-large" and "echo" not in resp.to_dict()  # translated from chat, not relayed
    assert "x-vsr-upstream-api" not in raw.headers
    sent(large, "/v1/chat/completions")
    assert small.requests() == []


def test_worker_error_and_usage_accounting(stack, client):
    r, _, _ = stack
    before = scrape(r.url)
    client.responses.create(model="auto", input="Tokens, please.")
    list(client.responses.create(model="auto", input="Tokens again, streamed.", stream=True))
    time.sleep(0.3)  # the observer records after the answer is out
    out = sample(scrape(r.url), "semrouter_tokens_total", model="resp-small", direction="output")
    out -= sample(before, "semrouter_tokens_total", model="resp-small", direction="output")
    assert out == 32  # the Responses usage (output_tokens) counts as chat's completion_tokens
    with pytest.raises(Exception) as err:
        client.responses.create(model="auto", input="fail", extra_headers={"x-fake-status": "400"})
    assert getattr(err.value, "status_code", None) == 400
    stats = http_json("GET", r.url + "/api/v1/cache/stats")[2]["stage"]
    assert stats["store_skips"].get("native_responses", 0) >= 1  # native answers are not cached


def test_fallback_to_a_chat_model_is_translated(stack, client):
    _, small, large = stack
    raw = client.responses.with_raw_response.create(model="resp-dead", input="anyone there?")
    resp = raw.parse()
    assert resp.model == "chat-large" and raw.headers["x-vsr-fallback-from"] == "resp-dead"
    assert "x-vsr-upstream-api" not in raw.headers and "echo" not in resp.to_dict()
    assert resp.output_text.startswith("Answer from chat-large:")
    sent(large, "/v1/chat/completions")
    assert small.requests() == []
