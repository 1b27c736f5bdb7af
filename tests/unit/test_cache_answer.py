"""Answers in and out of the cache: JSON and SSE parse to the same entry, and replay in either form."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from semrouter.cache.answer import Unstorable, parse_answer, parse_json, parse_sse, split_text, to_json, to_sse
from semrouter.cache.base import CachedAnswer

USAGE = {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}
TOOL_CALLS = [
    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "CET"}'}},
]


def completion(message: dict[str, Any], finish: str = "stop", **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-x",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "Qwen/Qwen3-8B",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": USAGE,
            **extra,
        }
    )


def sse(*chunks: dict[str, Any] | str) -> bytes:
    out = b""
    for c in chunks:
        out += b"data: " + (c.encode() if isinstance(c, str) else orjson.dumps(c)) + b"\n\n"
    return out


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    base = {"id": "chatcmpl-y", "object": "chat.completion.chunk", "created": 1700000001, "model": "m"}
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {**base, "choices": choices, **extra}


def test_json_answer_parses_with_reasoning_and_usage() -> None:
    a = parse_json(
        completion({"role": "assistant", "content": "Paris.", "reasoning_content": "Capital of France."}),
        prompt="What is the capital of France?",
    )
    assert a == CachedAnswer(
        content="Paris.",
        model="Qwen/Qwen3-8B",
        created=1700000000.0,
        finish_reason="stop",
        reasoning_content="Capital of France.",
        tool_calls=None,
        usage=USAGE,
        prompt="What is the capital of France?",
    )
    # newer vLLM spells it "reasoning"
    assert parse_json(completion({"role": "assistant", "content": "x", "reasoning": "r"})).reasoning_content == "r"


def test_stream_accumulates_content_reasoning_tool_calls_and_usage() -> None:
    raw = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Think"}),
        chunk({"reasoning_content": "ing."}),
        chunk({"content": "Let me "}),
        chunk({"content": "check."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_2", "function": {"name": "get_time", "arguments": '{"tz": "CET"}'}}
                ]
            }
        ),
        chunk({}, "tool_calls"),
        chunk(None, usage=USAGE),
        "[DONE]",
    )
    a = parse_sse(raw)
    assert a.content == "Let me check."
    assert a.reasoning_content == "Thinking."
    assert a.tool_calls == TOOL_CALLS
    assert a.finish_reason == "tool_calls"
    assert a.usage == USAGE
    assert a.model == "m" and a.created == 1700000001.0


def test_stream_bytes_split_anywhere_and_crlf() -> None:
    raw = sse(chunk({"role": "assistant", "content": "Hi"}), chunk({}, "stop"), "[DONE]").replace(b"\n", b"\r\n")
    assert parse_answer(raw, stream=True).content == "Hi"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (sse(chunk({"content": "cut"})), "no_done"),
        (sse(chunk({"content": "x"}), '{"error": {"message": "boom"}}', "[DONE]"), "error"),
        (sse(chunk({"role": "assistant", "content": ""}), chunk({}, "stop"), "[DONE]"), "empty"),
        (sse(chunk({"content": "x"}), "not json", "[DONE]"), "parse"),
        (sse(chunk({"content": "x"}), "[DONE]", chunk({"content": "y"})), "after_done"),
    ],
)
def test_unstorable_streams(raw: bytes, reason: str) -> None:
    with pytest.raises(Unstorable) as err:
        parse_sse(raw)
    assert err.value.reason == reason


def test_unstorable_json() -> None:
    for raw, reason in [
        (b'{"error": {"message": "x"}}', "error"),
        (b"<html>", "parse"),
        (completion({"role": "assistant", "content": ""}), "empty"),
        (completion({"role": "assistant", "content": None}), "empty"),
    ]:
        with pytest.raises(Unstorable) as err:
            parse_json(raw)
        assert err.value.reason == reason
    two = orjson.loads(completion({"role": "assistant", "content": "a"}))
    two["choices"].append({"index": 1, "message": {"role": "assistant", "content": "b"}, "finish_reason": "stop"})
    with pytest.raises(Unstorable, match="choices"):
        parse_json(orjson.dumps(two))


def test_tool_call_only_answer_is_storable() -> None:
    a = parse_json(completion({"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}, "tool_calls"))
    assert a.content is None and a.tool_calls == TOOL_CALLS


ANSWERS = [
    CachedAnswer("The capital of France is Paris, on the Seine.", "m", 1.0, usage=USAGE),
    CachedAnswer("42", "m", 1.0, reasoning_content="Six times seven is forty-two.", usage=USAGE),
    CachedAnswer(None, "m", 1.0, finish_reason="tool_calls", tool_calls=TOOL_CALLS, usage=USAGE),
    CachedAnswer("Let me look.", "m", 1.0, finish_reason="tool_calls", tool_calls=TOOL_CALLS[:1]),
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_round_trips_in_both_forms(answer: CachedAnswer) -> None:
    """JSON → entry → SSE → entry and SSE → entry → JSON → entry keep every field a client sees."""

    def same(a: CachedAnswer, b: CachedAnswer) -> None:
        assert (a.content, a.reasoning_content, a.tool_calls, a.finish_reason, a.usage) == (
            b.content,
            b.reasoning_content,
            b.tool_calls,
            b.finish_reason,
            b.usage,
        )

    via_json = parse_json(to_json(answer, "auto"))
    same(via_json, answer)
    via_sse = parse_sse(b"".join(to_sse(answer, "auto", include_usage=True)))
    same(via_sse, answer)
    same(parse_json(to_json(via_sse, "auto")), answer)
    same(parse_sse(b"".join(to_sse(via_json, "auto", include_usage=True))), answer)


def test_replay_shapes() -> None:
    answer = ANSWERS[1]
    body = orjson.loads(to_json(answer, "fast"))
    assert body["object"] == "chat.completion" and body["model"] == "fast"
    assert body["id"].startswith("chatcmpl-") and body["id"] != orjson.loads(to_json(answer, "fast"))["id"]
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "Six times seven is forty-two.",
    }
    events = to_sse(answer, "fast", include_usage=False)
    assert events[-1] == b"data: [DONE]\n\n"
    payloads = [orjson.loads(e[6:]) for e in events[:-1]]
    assert all(p["object"] == "chat.completion.chunk" and p["model"] == "fast" for p in payloads)
    assert len({p["id"] for p in payloads}) == 1
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [p["choices"][0]["delta"] for p in payloads[1:-1]]
    kinds = [next(iter(d)) for d in deltas]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning_content")  # reasoning before content
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any("usage" in p for p in payloads)  # not asked for
    with_usage = [orjson.loads(e[6:]) for e in to_sse(answer, "fast", include_usage=True)[:-1]]
    assert with_usage[-1] == {**with_usage[-1], "choices": [], "usage": USAGE}


def test_split_text_keeps_text() -> None:
    text = "The capital of France is Paris, a city on the Seine."
    parts = split_text(text)
    assert 1 < len(parts) <= 4 and "".join(parts) == text
    assert split_text("") == [] and split_text("x") == ["x"]
    assert "".join(split_text("a" * 101)) == "a" * 101
