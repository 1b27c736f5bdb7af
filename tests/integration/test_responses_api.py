"""The real openai SDK's ``responses.create`` through the router to chat-completions fake workers.

One router and two workers serve the whole module (starting them is most of the cost); each test clears
the workers' request logs. The fake worker echoes what it received, so every test checks both what the
client got (the Response object or its events) and what the worker was sent (model, system prompt,
reasoning switch, tools, the conversation).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from conftest import api_stack
from openai import OpenAI
from servers import Server

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
CALL = json.dumps({"id": "call_7", "name": "get_weather", "arguments": {"city": "Paris"}})


def _families(cfg: dict[str, Any]) -> None:
    cfg["models"][0]["family"] = "qwen3"
    cfg["models"][1]["family"] = "deepseek"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Server]]:
    with api_stack(tmp_path_factory.mktemp("responses"), "qwen-small", "deepseek-large", _families) as servers:
        yield servers


@pytest.fixture
def client(stack: tuple[Server, Server, Server]) -> OpenAI:
    for s in stack[1:]:
        s.clear()
    return OpenAI(base_url=stack[0].url + "/v1", api_key="k", max_retries=0)


def sent(worker: Server) -> dict[str, Any]:
    [req] = worker.requests()
    assert req["path"] == "/v1/chat/completions"
    return req


def test_create_routes_and_translates(stack, client):
    _, small, large = stack
    raw = client.responses.with_raw_response.create(
        model="auto", instructions="Answer in French.", input="What is 2+2?", max_output_tokens=64
    )
    resp = raw.parse()
    assert resp.model == "qwen-small"  # the routed model in the body, not only in x-vsr-selected-model
    assert raw.headers["x-vsr-selected-model"] == "qwen-small"
    assert resp.object == "response" and resp.status == "completed" and resp.id.startswith("resp_")
    assert resp.output_text.startswith("Answer from qwen-small:")
    assert resp.output[0].type == "message" and resp.output[0].role == "assistant"
    assert resp.usage is not None and resp.usage.output_tokens == 16 and resp.usage.input_tokens > 0
    req = sent(small)
    echo = req["echo"]
    assert echo["model"] == "qwen-small"
    assert echo["system_prompt"] == "You are terse.\n\nAnswer in French."  # the decision's, then instructions
    assert echo["chat_template_kwargs"] == {"enable_thinking": False}  # qwen3's switch, written off
    assert req["body"]["max_tokens"] == 64
    assert req["body"]["messages"][-1] == {"role": "user", "content": "What is 2+2?"}
    assert large.requests() == []


def test_reasoning_effort_becomes_the_family_switch(stack, client):
    _, small, _ = stack
    raw = client.responses.with_raw_response.create(model="auto", input="Prove it.", reasoning={"effort": "high"})
    resp = raw.parse()
    assert raw.headers["x-vsr-selected-reasoning"] == "on"
    echo = sent(small)["echo"]
    assert echo["chat_template_kwargs"] == {"enable_thinking": True}
    assert echo["reasoning_effort"] is None  # the neutral field gave way to qwen3's own switch
    kinds = [item.type for item in resp.output]
    assert kinds == ["reasoning", "message"]
    assert resp.output[0].content[0].text == "Let me think."


def test_explicit_model_keeps_its_family(stack, client):
    _, _, large = stack
    resp = client.responses.create(model="deepseek-large", input="hi", reasoning={"effort": "low"})
    assert resp.model == "deepseek-large"
    echo = sent(large)["echo"]
    assert echo["chat_template_kwargs"] == {"thinking": True} and echo["system_prompt"] is None


def test_streamed_events(stack, client):
    _, small, _ = stack
    events = list(client.responses.create(model="auto", input="stream it", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.startswith("Answer from qwen-small:") and text.endswith(" w15")
    done = events[-1].response
    assert done.model == "qwen-small" and done.output_text == text
    assert done.usage is not None and done.usage.output_tokens == 16
    req = sent(small)
    assert req["stream"] is True and req["completed"] is True
    assert req["body"]["stream_options"] == {"include_usage": True}


def test_stream_helper_accumulates(stack, client):
    with client.responses.stream(model="auto", input="again") as stream:
        final = stream.get_final_response()
    assert final.model == "qwen-small" and final.output_text.startswith("Answer from qwen-small:")


def test_tools_non_streamed(stack, client):
    _, small, _ = stack
    resp = client.responses.create(
        model="auto", input="Weather in Paris?", tools=TOOLS, extra_headers={"x-fake-tool-call": CALL}
    )
    [call] = resp.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id == "call_7"
    assert json.loads(call.arguments) == {"city": "Paris"}
    body = sent(small)["body"]
    assert body["tools"][0] == {"type": "function", "function": {k: v for k, v in TOOLS[0].items() if k != "type"}}


def test_tools_streamed_then_result_via_previous_response(stack, client):
    _, small, _ = stack
    events = list(
        client.responses.create(
            model="auto", input="Weather in Paris?", tools=TOOLS, stream=True, extra_headers={"x-fake-tool-call": CALL}
        )
    )
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(args) == {"city": "Paris"}
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert done.name == "get_weather"
    first = events[-1].response
    assert first.output[0].type == "function_call"
    small.clear()
    follow = client.responses.create(
        model="auto",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_7", "output": "18C and sunny"}],
        tools=TOOLS,
    )
    assert follow.previous_response_id == first.id and follow.output_text.startswith("Answer from qwen-small")
    messages = sent(small)["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert messages[3] == {"role": "tool", "tool_call_id": "call_7", "content": "18C and sunny"}


def test_previous_response_id_is_per_tenant(stack, client):
    _, small, _ = stack
    a = {"x-tenant-id": "tenant-a"}
    first = client.responses.create(model="auto", instructions="Be kind.", input="My name is Ada.", extra_headers=a)
    second = client.responses.create(
        model="auto", previous_response_id=first.id, input="What is my name?", extra_headers=a
    )
    assert second.model == "qwen-small"
    messages = small.requests()[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == "You are terse."  # instructions do not carry over to the next turn
    assert messages[2]["content"] == first.output_text
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(
            model="auto", previous_response_id=first.id, input="and now?", extra_headers={"x-tenant-id": "tenant-b"}
        )
    assert err.value.body["param"] == "previous_response_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="auto", previous_response_id="resp_unknown", input="x", extra_headers=a)


def test_store_false_keeps_nothing(stack, client):
    first = client.responses.create(model="auto", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="auto", previous_response_id=first.id, input="x")


def test_retrieve_and_delete_a_stored_response(stack, client):
    """``responses.retrieve`` returns the Response object the client got, to its tenant only; ``delete``
    forgets it (retrieve and continuing from it are then 404s); ``store: false`` answers are never kept."""
    a, b = {"x-tenant-id": "tenant-a"}, {"x-tenant-id": "tenant-b"}
    made = client.responses.create(model="auto", instructions="Be kind.", input="Keep this one.", extra_headers=a)
    got = client.responses.retrieve(made.id, extra_headers=a)
    assert got.model_dump() == made.model_dump()
    assert got.output_text == made.output_text and got.instructions == "Be kind."
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id, extra_headers=b)  # another tenant's id is unknown to it
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(made.id, extra_headers=b)  # and it cannot delete it either
    client.responses.delete(made.id, extra_headers=a)
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.retrieve(made.id, extra_headers=a)
    assert err.value.body["code"] == "not_found"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="auto", previous_response_id=made.id, input="x", extra_headers=a)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(made.id, extra_headers=a)  # a second delete finds nothing
    unkept = client.responses.create(model="auto", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unkept.id)
    streamed = client.responses.create(model="auto", input="stream and keep", stream=True)
    [final] = [e.response for e in streamed if e.type == "response.completed"]
    assert client.responses.retrieve(final.id).output_text == final.output_text


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"extra_body": {"prompt": {"id": "pmpt_1"}}}, "prompt"),
        ({"background": True}, "background"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
    ],
)
def test_unsupported_fields_are_400s_naming_them(stack, client, extra, param):
    args: dict[str, Any] = {"model": "auto", "input": "hi", **extra}
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(**args)
    assert err.value.body["param"] == param  # type: ignore[index]
    assert stack[1].requests() == []


def test_worker_error_keeps_openai_shape(stack, client):
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="auto", input="x", extra_headers={"x-fake-status": "500"})
