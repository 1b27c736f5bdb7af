"""The Responses and Messages translations in-process: request → chat body (through the real parse,
decision and enrich stages), chat answers → the client API's shape (JSON and SSE split anywhere), the
reasoning wish against the family switch, errors, and the bounds of the conversation store."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from semrouter.adapters.intake import error_body
from semrouter.adapters.messages import MessagesDialect, thinking_wish
from semrouter.adapters.responses import ConversationStore, ResponsesDialect, input_messages
from semrouter.adapters.translate import AnswerFilter, Dialect
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext
from semrouter.errors import RouterError
from semrouter.stages import build_pipeline


def config(client_fields: str = "override", family: str | None = "qwen3") -> RouterConfig:
    model: dict[str, Any] = {"name": "m1", "endpoints": [{"url": "http://127.0.0.1:9"}]}
    if family:
        model["family"] = family
    return RouterConfig.model_validate(
        {
            "models": [model, {"name": "plain", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
            "decisions": [{"name": "default", "models": [{"model": "m1"}], "use_reasoning": False}],
            "reasoning": {"client_fields": client_fields},
        }
    )


async def run(
    dialect: Dialect, body: dict[str, Any], cfg: RouterConfig | None = None, **headers: str
) -> RequestContext:
    """The request through the real pipeline and the dialect's settle step, as the intake runs them."""
    cfg = cfg or config()
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), headers, cfg)
    ctx.dialect = dialect
    local = await build_pipeline(cfg).run_request(ctx)
    assert local is None
    assert dialect.settle(ctx, None) is None
    return ctx


CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "m1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hi there",
                "reasoning_content": "hmm",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}


def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> bytes:
    return (
        b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}) + b"\n\n"
    )


STREAM = b"".join(
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "hm"}),
        chunk({"reasoning_content": "m"}),
        chunk({"content": "Hi "}),
        chunk({"content": "there"}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
        chunk({}, "tool_calls"),
        b'data: {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}\n\n',
        b"data: [DONE]\n\n",
    ]
)


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.split(b"\n\n"):
        if block.strip():
            name, data = block.split(b"\n", 1)
            out.append((name.removeprefix(b"event: ").decode(), orjson.loads(data.removeprefix(b"data: "))))
    return out


# -- requests ----------------------------------------------------------------------------------------


async def test_responses_request_through_the_pipeline():
    d = ResponsesDialect(ConversationStore())
    ctx = await run(
        d,
        {
            "model": "auto",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
            ],
            "max_output_tokens": 50,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_object"}},
            "stream": True,
        },
    )
    body = ctx.body
    assert ctx.model == "m1" and ctx.stream and body["model"] == "m1"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    assert body["max_tokens"] == 50 and body["stream_options"] == {"include_usage": True}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert body["response_format"] == {"type": "json_object"}
    assert body["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_function_call_after_text_joins_the_assistant_turn():
    msgs = input_messages(
        [
            {"role": "assistant", "content": "Let me look."},
            {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "b", "name": "g", "arguments": "{}"},
        ]
    )
    assert len(msgs) == 1 and [c["id"] for c in msgs[0]["tool_calls"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("dialect", "body", "param"),
    [
        (ResponsesDialect, {"model": "auto", "input": "x", "seed": 1}, "seed"),
        (ResponsesDialect, {"model": "auto", "input": "x", "include": ["file_search_call.results"]}, "include"),
        (ResponsesDialect, {"model": "auto", "input": "x", "text": {"verbosity": "low"}}, "text.verbosity"),
        (ResponsesDialect, {"model": "auto", "input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
        (ResponsesDialect, {"model": "auto"}, "input"),
        (MessagesDialect, {"model": "auto", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        (MessagesDialect, {"model": "auto", "max_tokens": 5, "messages": [], "mcp_servers": []}, "mcp_servers"),
        (
            MessagesDialect,
            {"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "document"}]}]},
            "messages[0].content[0].type",
        ),
    ],
)
async def test_unsupported_or_invalid_fields_name_the_parameter(dialect, body, param):
    with pytest.raises(RouterError) as err:
        await run(dialect(), body)
    assert err.value.status == 400 and err.value.param == param


async def test_messages_request_through_the_pipeline():
    d = MessagesDialect()
    ctx = await run(
        d,
        {
            "model": "auto",
            "max_tokens": 300,
            "system": [{"type": "text", "text": "Sys.", "cache_control": {"type": "ephemeral"}}],
            "stop_sequences": ["END"],
            "top_k": 5,
            "metadata": {"user_id": "u1"},
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "x", "signature": "s"},
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
                        {"type": "text", "text": "thanks"},
                    ],
                },
            ],
        },
    )
    assert ctx.body["messages"] == [
        {"role": "system", "content": "Sys."},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "ok"},
        {"role": "user", "content": "thanks"},
    ]
    assert ctx.body["stop"] == ["END"] and ctx.body["top_k"] == 5 and ctx.body["user"] == "u1"


# -- reasoning ------------------------------------------------------------------------------------


def test_thinking_budget_reads_as_effort():
    assert thinking_wish({"type": "enabled", "budget_tokens": 1024}) == (True, "low")
    assert thinking_wish({"type": "enabled", "budget_tokens": 10000}) == (True, "medium")
    assert thinking_wish({"type": "enabled", "budget_tokens": 32000}) == (True, "high")
    assert thinking_wish({"type": "disabled"}) == (False, None)
    assert thinking_wish(None) is None


THINK = {
    "model": "auto",
    "max_tokens": 9,
    "messages": [{"role": "user", "content": "x"}],
    "thinking": {"type": "enabled", "budget_tokens": 2000},
}


async def test_routed_thinking_with_override_yields_to_the_decision():
    ctx = await run(MessagesDialect(), THINK, config("override"))
    assert ctx.body["chat_template_kwargs"] == {"enable_thinking": False}  # the decision says off
    assert "reasoning_effort" not in ctx.body and ctx.reasoning is False


async def test_routed_thinking_with_respect_sets_the_family_switch():
    ctx = await run(MessagesDialect(), THINK, config("respect"))
    assert ctx.body["chat_template_kwargs"] == {"enable_thinking": True}
    assert "reasoning_effort" not in ctx.body and ctx.reasoning is True and ctx.reasoning_effort == "low"


async def test_explicit_model_without_family_gets_openai_reasoning_effort():
    on = await run(
        ResponsesDialect(ConversationStore()), {"model": "plain", "input": "x", "reasoning": {"effort": "high"}}
    )
    assert on.body["reasoning_effort"] == "high" and on.reasoning is True
    off = await run(MessagesDialect(), {**THINK, "model": "plain", "thinking": {"type": "disabled"}})
    assert "reasoning_effort" not in off.body and off.reasoning is False


# -- answers ----------------------------------------------------------------------------------------


def translate(dialect: Dialect, ctx: RequestContext, data: bytes, step: int = 0) -> bytes:
    f = AnswerFilter(dialect, ctx)
    if not step:
        return f.feed(data) + f.finish()
    return b"".join(f.feed(data[i : i + step]) for i in range(0, len(data), step)) + f.finish()


async def test_responses_json_answer():
    d = ResponsesDialect(ConversationStore())
    ctx = await run(d, {"model": "auto", "input": "x", "metadata": {"k": "v"}})
    out = orjson.loads(translate(d, ctx, orjson.dumps(CHAT_ANSWER)))
    assert out["model"] == "m1" and out["status"] == "completed" and out["metadata"] == {"k": "v"}
    assert [i["type"] for i in out["output"]] == ["reasoning", "message", "function_call"]
    assert out["output"][2]["arguments"] == '{"a":1}' and out["output"][2]["call_id"] == "c1"
    assert out["usage"]["input_tokens"] == 10 and out["usage"]["total_tokens"] == 15


async def test_messages_json_answer_and_stop_sequence():
    d = MessagesDialect()
    ctx = await run(d, {**THINK, "stop_sequences": ["END"]})
    out = orjson.loads(translate(d, ctx, orjson.dumps(CHAT_ANSWER)))
    assert out["model"] == "m1" and out["stop_reason"] == "tool_use"
    assert [b["type"] for b in out["content"]] == ["thinking", "text", "tool_use"]
    assert out["content"][2]["input"] == {"a": 1}
    stopped = {
        **CHAT_ANSWER,
        "choices": [{"index": 0, "message": {"content": "a"}, "finish_reason": "stop", "stop_reason": "END"}],
    }
    out = orjson.loads(translate(d, ctx, orjson.dumps(stopped)))
    assert (out["stop_reason"], out["stop_sequence"]) == ("stop_sequence", "END")


@pytest.mark.parametrize("step", [0, 1, 7, 64])
async def test_streams_translate_the_same_however_split(step):
    d = MessagesDialect()
    ctx = await run(d, THINK)
    got = events(translate(d, ctx, STREAM, step))
    kinds = [(name, p.get("content_block", p.get("delta", {})).get("type")) for name, p in got]
    assert kinds == [
        ("message_start", None),
        ("content_block_start", "thinking"),
        ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "thinking_delta"),
        ("content_block_delta", "signature_delta"),
        ("content_block_stop", None),
        ("content_block_start", "text"),
        ("content_block_delta", "text_delta"),
        ("content_block_delta", "text_delta"),
        ("content_block_stop", None),
        ("content_block_start", "tool_use"),
        ("content_block_delta", "input_json_delta"),
        ("content_block_delta", "input_json_delta"),
        ("content_block_stop", None),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert got[-2][1]["delta"]["stop_reason"] == "tool_use" and got[-2][1]["usage"]["output_tokens"] == 5


async def test_responses_stream_stores_the_turn_and_numbers_events():
    store = ConversationStore()
    d = ResponsesDialect(store)
    ctx = await run(d, {"model": "auto", "input": "hello", "stream": True}, **{"x-tenant-id": "t1"})
    got = events(translate(d, ctx, STREAM, 5))
    assert [p["sequence_number"] for _, p in got] == list(range(len(got)))
    assert got[-1][0] == "response.completed"
    final = got[-1][1]["response"]
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][2]["arguments"] == '{"a":1}'
    assert store.get("t1", d.id) == [
        {"role": "user", "content": "hello"},
        {
            "role": "assistant",
            "content": "Hi there",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
        },
    ]
    assert store.get("t2", d.id) is None  # another tenant never sees it


async def test_broken_stream_becomes_the_apis_error_event():
    broken = chunk({"content": "par"}) + b'data: {"error": {"message": "worker died", "code": "x"}}\n\n'
    d = MessagesDialect()
    ctx = await run(d, THINK)
    got = events(translate(d, ctx, broken))
    assert got[-1] == ("error", {"type": "error", "error": {"type": "api_error", "message": "worker died"}})
    assert "message_stop" not in [n for n, _ in got]
    r = ResponsesDialect(ConversationStore())
    ctx = await run(r, {"model": "auto", "input": "x", "stream": True})
    names = [n for n, _ in events(translate(r, ctx, broken))]
    assert names[-2:] == ["error", "response.failed"] and "response.completed" not in names
    assert len(r.store) == 0  # a failed answer is not a turn to continue from


async def test_non_json_bodies_pass_through():
    d = MessagesDialect()
    ctx = await run(d, THINK)
    assert translate(d, ctx, b"<html>bad gateway</html>") == b"<html>bad gateway</html>"


def test_router_errors_in_each_apis_shape():
    err = RouterError(429, "slow down", type="rate_limit_error", code="rate_limited")
    assert orjson.loads(error_body("/v1/messages", err)) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
    }
    assert orjson.loads(error_body("/v1/responses", err))["error"]["code"] == "rate_limited"
    assert orjson.loads(error_body("/v1/messages", RouterError(503, "x")))["error"]["type"] == "api_error"
    unknown = orjson.loads(error_body("/v1/messages/count_tokens", RouterError(404, "Unknown path")))
    assert unknown["error"]["type"] == "not_found_error"  # Anthropic's SDKs read it as a NotFoundError
    assert "type" not in orjson.loads(error_body("/v1/unknown", RouterError(404, "x")))  # OpenAI's elsewhere


# -- the conversation store ----------------------------------------------------------------------


def test_store_bounds_bytes_per_tenant_and_in_all():
    store = ConversationStore(max_bytes=300, tenant_bytes=200, ttl_s=60)
    blob = b"[" + b" " * 98 + b"]"  # 100 bytes
    assert store.put("a", "r1", blob, now=0) and store.put("a", "r2", blob, now=1)
    store.put("a", "r3", blob, now=2)  # over tenant a's share: its oldest goes
    assert store.get("a", "r1", now=3) is None and store.get("a", "r2", now=3) == []
    store.put("b", "r1", blob, now=4)
    store.put("c", "r1", blob, now=5)  # over the total: the least recently used (a/r3) goes
    assert store.get("a", "r3", now=6) is None and store.get("a", "r2", now=6) == []
    assert not store.put("a", "big", b"[" + b" " * 300 + b"]")  # larger than a share: refused, nothing evicted
    assert store.get("b", "r1", now=7) == []


def test_store_expires():
    store = ConversationStore(ttl_s=10)
    store.put("a", "r", b"[]", now=0)
    assert store.get("a", "r", now=5) == []
    assert store.get("a", "r", now=16) is None and len(store) == 0


# -- Envoy ext_proc ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/messages"])
async def test_extproc_answers_the_translated_apis_with_a_clear_error(path):
    from types import SimpleNamespace

    from envoy.config.core.v3 import base_pb2
    from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

    from semrouter.adapters.extproc import Exchange

    runtime = SimpleNamespace(config=config(), pipeline=SimpleNamespace(wants_response_body=False))
    ex = Exchange(SimpleNamespace(runtime=runtime))  # type: ignore[arg-type]
    headers = [base_pb2.HeaderValue(key=k, raw_value=v) for k, v in ((":path", path.encode()), (":method", b"POST"))]
    msg = pb.ProcessingRequest(request_headers=pb.HttpHeaders(headers=base_pb2.HeaderMap(headers=headers)))
    reply = (await ex.handle(msg)).immediate_response
    assert reply.status.code == 501
    body = orjson.loads(reply.body)
    message = body["error"]["message"]
    assert "HTTP proxy" in message
    if path == "/v1/messages":
        assert body["type"] == "error" and body["error"]["type"] == "api_error"


# -- cache hits in the calling API's shape -----------------------------------------------------------


async def test_cache_hits_come_back_in_the_calling_apis_shape():
    """A chat answer stored by one API's request is served to the next in its own API's shape, streamed or
    not (the cache keeps chat; the translation is the same filter the worker's answer goes through)."""
    from semrouter.context import ResponseOutcome

    cfg = RouterConfig.model_validate(
        {
            "models": [{"name": "m1", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
            "decisions": [{"name": "default", "models": [{"model": "m1"}]}],
            "cache": {"enabled": True},
        }
    )
    pipe = build_pipeline(cfg)
    answer = orjson.dumps(
        {**CHAT_ANSWER, "choices": [{"index": 0, "message": {"content": "Paris."}, "finish_reason": "stop"}]}
    )

    async def ask(dialect: Dialect, body: dict[str, Any]) -> Any:
        ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), {}, cfg)
        ctx.dialect = dialect
        local = dialect.settle(ctx, await pipe.run_request(ctx))
        if local is None:
            await pipe.run_response(ctx, ResponseOutcome(200, True, answer))
            return None
        assert local.headers["x-vsr-cache-hit"] == "true"
        if local.chunks is None:
            return orjson.loads(local.body)
        return events(b"".join([c async for c in local.chunks]))

    question = "What is the capital of France?"
    assert await ask(ResponsesDialect(ConversationStore()), {"model": "auto", "input": question}) is None
    hit = await ask(ResponsesDialect(ConversationStore()), {"model": "auto", "input": question})
    assert hit["object"] == "response" and hit["model"] == "m1"
    assert hit["output"][0]["content"][0]["text"] == "Paris."
    ask_messages = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": question}]}
    assert await ask(MessagesDialect(), ask_messages) is None  # max_tokens: another partition than the above
    msg = await ask(MessagesDialect(), ask_messages)
    assert msg["type"] == "message" and msg["content"] == [{"type": "text", "text": "Paris."}]
    streamed = await ask(
        MessagesDialect(),
        {"model": "auto", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": question}]},
    )
    names = [n for n, _ in streamed]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    text = "".join(p["delta"].get("text", "") for n, p in streamed if n == "content_block_delta")
    assert text == "Paris."


async def test_a_stream_broken_upstream_ends_in_the_apis_error_event():
    """The proxy's own mid-stream error goes through the response filters, so a Messages client gets
    Anthropic's ``error`` event (which its SDK raises), not an OpenAI-shaped chunk it cannot read."""
    from semrouter.adapters.http_proxy import ProxyHandler
    from semrouter.upstream.client import UpstreamError

    class Broken:
        status = 200
        headers = [(b"content-type", b"text/event-stream")]

        async def iter_chunks(self) -> Any:
            yield chunk({"role": "assistant", "content": "par"})
            raise UpstreamError("connection reset")

    class Client:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        async def start_stream(self, status: int, headers: Any) -> None:
            pass

        async def send_chunk(self, data: bytes) -> None:
            self.sent.append(data)

        async def end_stream(self) -> None:
            pass

    d = MessagesDialect()
    ctx = await run(d, {**THINK, "stream": True})
    ex = Client()
    _, completed = await ProxyHandler._relay(None, ctx, Broken(), ex, False)  # type: ignore[arg-type]
    assert completed is False
    got = events(b"".join(ex.sent))
    assert [n for n, _ in got][:2] == ["message_start", "content_block_start"]
    assert got[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": got[-1][1]["error"]["message"]}},
    )
    assert "mid-answer" in got[-1][1]["error"]["message"]


# -- workers that speak Responses natively (a model with api: responses) ----------------------------


def native_config(family: str | None = "qwen3", **decision: Any) -> RouterConfig:
    cfg = config(family=family).model_dump()
    cfg["models"][0]["api"] = "responses"
    cfg["decisions"][0].update(decision)
    return RouterConfig.model_validate(cfg)


async def test_native_request_is_the_pipelines_chat_body_in_responses_form():
    d = ResponsesDialect(ConversationStore())
    cfg = native_config(system_prompt={"text": "Route says hi.", "mode": "insert"}, use_reasoning=True)
    ctx = await run(
        d,
        {
            "model": "auto",
            "instructions": "Be brief.",
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "see "}, {"type": "input_image", "image_url": "data:x"}],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"role": "assistant", "content": "It is sunny."},
                {"role": "developer", "content": "Mid-conversation note."},
                {"role": "user", "content": "thx!! and tmrw?"},
            ],
            "max_output_tokens": 50,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
            "reasoning": {"summary": "auto"},
            "metadata": {"k": "v"},
            "include": ["reasoning.encrypted_content"],
            "user": "u1",
            "stream": True,
        },
        cfg,
    )
    ctx.body["messages"][-1]["content"] = "thx!! and <PERSON_1>?"  # what a PII mask leaves: the body is the source
    native = d.native_request(ctx, "m1", "served-m1")
    assert native is not None
    path, raw = native
    body = orjson.loads(raw)
    assert path == "/v1/responses"
    assert body == {
        "model": "served-m1",
        "instructions": "Route says hi.\n\nBe brief.",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "see "},
                    {"type": "input_image", "image_url": "data:x", "detail": "auto"},
                ],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is sunny."}]},
            {"type": "message", "role": "developer", "content": "Mid-conversation note."},
            {"type": "message", "role": "user", "content": "thx!! and <PERSON_1>?"},
        ],
        "store": False,
        "max_output_tokens": 50,
        "user": "u1",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        "reasoning": {"effort": "medium", "summary": "auto"},  # the decision's switch (qwen3, on)
        "metadata": {"k": "v"},
        "include": ["reasoning.encrypted_content"],
        "stream": True,
    }
    assert d.native_request(ctx, "plain", "plain") is None  # a chat-only model (fallback) gets chat


@pytest.mark.parametrize(
    ("family", "wish", "effort"),
    [
        ("qwen3", None, "none"),  # the decision (use_reasoning: false) writes qwen3's switch off
        ("qwen3", "high", "high"),  # respect: the client's effort, through the family switch
        ("gpt-oss", None, "low"),  # gpt-oss's off value
        (None, "minimal", "minimal"),  # no family: the neutral field as sent
        (None, None, None),  # nothing said anywhere: the worker's default
    ],
)
async def test_native_reasoning_effort_reads_the_switch_the_pipeline_wrote(family, wish, effort):
    cfg = native_config(family=family).model_dump()
    cfg["reasoning"] = {"client_fields": "respect"}
    d = ResponsesDialect(ConversationStore())
    body: dict[str, Any] = {"model": "auto", "input": "x"}
    if wish:
        body["reasoning"] = {"effort": wish}
    ctx = await run(d, body, RouterConfig.model_validate(cfg))
    native = d.native_request(ctx, "m1", "m1")
    assert native is not None
    assert orjson.loads(native[1]).get("reasoning", {}).get("effort") == effort


async def test_native_is_off_while_a_chat_reading_filter_is_on():
    d = ResponsesDialect(ConversationStore())
    cfg = native_config()
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps({"model": "auto", "input": "x"}), {}, cfg)
    ctx.dialect = d
    assert await build_pipeline(cfg).run_request(ctx) is None
    ctx.response_filters.append(AnswerFilter(d, ctx))  # stands for PII restore or the bandit's sniffer
    d.settle(ctx, None)
    assert d.native_request(ctx, "m1", "m1") is None


NATIVE_RESPONSE = {
    "id": "resp_worker1",
    "object": "response",
    "status": "completed",
    "model": "served-m1",
    "instructions": "Route says hi.\n\nBe brief.",
    "previous_response_id": None,
    "store": False,
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c9", "name": "f", "arguments": "{}"},
    ],
    "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
    "extra": "the worker's own",
}


def sse_event(kind: str, **payload: Any) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"


NATIVE_STREAM = (
    sse_event("response.created", sequence_number=0, response={**NATIVE_RESPONSE, "output": [], "usage": None})
    + sse_event("response.output_text.delta", sequence_number=1, item_id="msg_1", delta='say "response": hi')
    + sse_event("response.completed", sequence_number=2, response=NATIVE_RESPONSE)
)


async def native_ctx(store: ConversationStore, **body: Any) -> tuple[ResponsesDialect, RequestContext]:
    d = ResponsesDialect(store)
    ctx = await run(d, {"model": "auto", "instructions": "Be brief.", **body}, native_config(), **{"x-tenant-id": "t"})
    ctx.upstream.native = True  # what the forwarder notes when the answer came from /v1/responses
    return d, ctx


async def test_native_json_answer_is_relayed_with_the_routers_id_and_model():
    store = ConversationStore()
    d, ctx = await native_ctx(store, input="hello")
    out = orjson.loads(translate(d, ctx, orjson.dumps(NATIVE_RESPONSE)))
    assert out["id"] == d.id and out["model"] == "m1" and out["instructions"] == "Be brief." and out["store"] is True
    assert {k: v for k, v in out.items() if k not in ("id", "model", "instructions", "store")} == {
        k: v for k, v in NATIVE_RESPONSE.items() if k not in ("id", "model", "instructions", "store")
    }
    assert store.get("t", d.id) == [
        {"role": "user", "content": "hello"},
        {
            "role": "assistant",
            "content": "Hi",
            "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
    ]
    error = orjson.dumps({"error": {"message": "bad", "type": "invalid_request_error"}})
    assert translate(d, ctx, error) == error  # the worker's error: already the Responses API's shape


@pytest.mark.parametrize("step", [0, 1, 9, 100])
async def test_native_stream_passes_through_however_split(step):
    store = ConversationStore()
    d, ctx = await native_ctx(store, input="hello", stream=True)
    out = translate(d, ctx, NATIVE_STREAM, step)
    got = events(out)
    assert [n for n, _ in got] == ["response.created", "response.output_text.delta", "response.completed"]
    assert out.split(b"\n\n")[1] == NATIVE_STREAM.split(b"\n\n")[1]  # a delta: byte for byte
    assert got[1][1]["delta"] == 'say "response": hi'
    for _, p in (got[0], got[2]):
        assert p["response"]["id"] == d.id and p["response"]["model"] == "m1"
    assert [p["sequence_number"] for _, p in got] == [0, 1, 2]
    assert store.get("t", d.id) is not None


async def test_native_stream_broken_by_the_upstream_ends_in_responses_failure_events():
    d, ctx = await native_ctx(ConversationStore(), input="x", stream=True)
    broken = NATIVE_STREAM.split(b"event: response.completed")[0]
    broken += b'data: {"error": {"message": "worker died", "code": "upstream_stream_broken"}}\n\n'
    names = [n for n, _ in events(translate(d, ctx, broken))]
    assert names == ["response.created", "response.output_text.delta", "error", "response.failed"]
    assert len(d.store) == 0


def test_responses_usage_counts_as_chat_usage():
    from semrouter.observe.usage import UsageSniffer, find_usage

    usage = find_usage(orjson.dumps(NATIVE_RESPONSE))
    assert usage is not None and (usage["prompt_tokens"], usage["completion_tokens"]) == (7, 3)
    sniffer = UsageSniffer()
    for i in range(0, len(NATIVE_STREAM), 13):
        sniffer.feed(NATIVE_STREAM[i : i + 13])
    assert sniffer.usage is not None and sniffer.usage["completion_tokens"] == 3  # created's null is skipped
