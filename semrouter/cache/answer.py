"""Turn a worker's answer (one JSON body or a raw SSE stream) into a :class:`CachedAnswer`, and back.

An entry is stored as fields, not bytes, because it must be replayable in the *other* form: a streamed
answer can serve a later non-stream request as one ``chat.completion`` JSON, and a JSON answer can serve
a ``stream: true`` request as a fresh, valid SSE stream. Parsing is strict about completeness — a stream
without ``[DONE]``, an error event, a second choice or an answer with nothing in it yields ``None``
with the reason, so a cut or failed answer is never kept.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from semrouter.cache.base import CachedAnswer

_DONE = b"[DONE]"
_PIECES = 4  # content is replayed in this many chunks: enough to exercise clients' stream handling


class Unstorable(ValueError):
    """The answer cannot be cached; ``reason`` is a short label for the stage's skip counters."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reasoning(obj: dict[str, Any]) -> Any:
    """vLLM has called the field ``reasoning_content`` and, in newer releases, ``reasoning``."""
    value = obj.get("reasoning_content")
    return value if value is not None else obj.get("reasoning")


def _one_choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    if len(choices) != 1 or not isinstance(choices[0], dict):
        raise Unstorable("choices")
    if choices[0].get("index", 0) != 0:
        raise Unstorable("choices")
    return choices[0]


def _finish(
    content: str | None,
    reasoning: str | None,
    tool_calls: list[dict[str, Any]] | None,
    finish_reason: Any,
    usage: Any,
    model: Any,
    created: Any,
    prompt: str,
) -> CachedAnswer:
    if not content and not tool_calls:
        raise Unstorable("empty")
    if not isinstance(finish_reason, str):
        raise Unstorable("finish_reason")
    return CachedAnswer(
        content=content,
        model=model if isinstance(model, str) else "",
        created=float(created) if isinstance(created, int | float) else time.time(),
        finish_reason=finish_reason,
        reasoning_content=reasoning or None,
        tool_calls=tool_calls or None,
        usage=usage if isinstance(usage, dict) else None,
        prompt=prompt,
    )


def parse_json(body: bytes, *, prompt: str = "") -> CachedAnswer:
    """A non-streamed ``chat.completion`` body; raises :class:`Unstorable` when it cannot be kept."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Unstorable("parse") from None
    if not isinstance(payload, dict) or "error" in payload:
        raise Unstorable("error")
    choice = _one_choice(payload)
    if choice is None:
        raise Unstorable("choices")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise Unstorable("parse")
    content = message.get("content")
    reasoning = _reasoning(message)
    tool_calls = message.get("tool_calls")
    return _finish(
        content if isinstance(content, str) else None,
        reasoning if isinstance(reasoning, str) else None,
        [t for t in tool_calls if isinstance(t, dict)] if isinstance(tool_calls, list) else None,
        choice.get("finish_reason"),
        payload.get("usage"),
        payload.get("model"),
        payload.get("created"),
        prompt,
    )


def sse_events(raw: bytes) -> Iterable[bytes]:
    """The ``data`` payload of each SSE event (multi-line data joined by newlines, as the spec says)."""
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if data:
            yield b"\n".join(data)


class _ToolCallAccumulator:
    """Tool-call deltas arrive as fragments keyed by ``index``: id/type/name once, arguments in pieces."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, deltas: Any) -> None:
        if not isinstance(deltas, list):
            return
        for d in deltas:
            if not isinstance(d, dict):
                continue
            idx = d.get("index", len(self.calls))
            call = self.calls.setdefault(
                idx, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            if d.get("id"):
                call["id"] = d["id"]
            if d.get("type"):
                call["type"] = d["type"]
            fn = d.get("function")
            if isinstance(fn, dict):
                if isinstance(fn.get("name"), str):
                    call["function"]["name"] += fn["name"]
                if isinstance(fn.get("arguments"), str):
                    call["function"]["arguments"] += fn["arguments"]

    def result(self) -> list[dict[str, Any]] | None:
        if not self.calls:
            return None
        out = []
        for idx in sorted(self.calls):
            call = self.calls[idx]
            if not call["id"]:
                call["id"] = f"call_{os.urandom(12).hex()}"
            out.append(call)
        return out


def parse_sse(raw: bytes, *, prompt: str = "") -> CachedAnswer:
    """A raw ``chat.completion.chunk`` stream as the proxy relayed it; :class:`Unstorable` unless it ended
    with ``[DONE]`` and carried no error event."""
    content: list[str] = []
    reasoning: list[str] = []
    tools = _ToolCallAccumulator()
    finish_reason: Any = None
    usage: Any = None
    model: Any = None
    created: Any = None
    done = False
    for data in sse_events(raw):
        if done:
            raise Unstorable("after_done")  # anything after [DONE] is not a stream we understand
        if data.strip() == _DONE:
            done = True
            continue
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise Unstorable("parse") from None
        if not isinstance(chunk, dict) or "error" in chunk:
            raise Unstorable("error")
        model = model or chunk.get("model")
        created = created or chunk.get("created")
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        choice = _one_choice(chunk)
        if choice is None:
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            r = _reasoning(delta)
            if isinstance(r, str):
                reasoning.append(r)
            tools.add(delta.get("tool_calls"))
        if choice.get("finish_reason") is not None:
            finish_reason = choice["finish_reason"]
    if not done:
        raise Unstorable("no_done")
    text = "".join(content)
    return _finish(
        text or None, "".join(reasoning) or None, tools.result(), finish_reason, usage, model, created, prompt
    )


def parse_answer(body: bytes, *, stream: bool, prompt: str = "") -> CachedAnswer:
    """Either form; ``stream`` says which the worker sent (the proxy keeps the raw SSE bytes for streams)."""
    return parse_sse(body, prompt=prompt) if stream else parse_json(body, prompt=prompt)


# -- replay ---------------------------------------------------------------------------------------


def _completion_id() -> str:
    return f"chatcmpl-{os.urandom(16).hex()}"


def to_json(answer: CachedAnswer, model: str) -> bytes:
    """A complete ``chat.completion`` body with a fresh id and the current time."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning_content is not None:
        message["reasoning_content"] = answer.reasoning_content
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    payload: dict[str, Any] = {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
    }
    if answer.usage is not None:
        payload["usage"] = answer.usage
    return orjson.dumps(payload)


def split_text(text: str, pieces: int = _PIECES) -> list[str]:
    """``text`` in up to ``pieces`` parts cut at spaces where possible (joined they give ``text`` back)."""
    if not text:
        return []
    cuts = [0]
    for i in range(1, pieces):
        target = round(len(text) * i / pieces)
        if target <= cuts[-1]:
            continue
        space = text.rfind(" ", cuts[-1] + 1, target + 1)
        cuts.append(space if space > cuts[-1] else target)
    cuts.append(len(text))
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def to_sse(answer: CachedAnswer, model: str, *, include_usage: bool = False) -> list[bytes]:
    """The answer as SSE events: role chunk, reasoning chunks, content chunks, tool calls, finish chunk,
    a usage chunk if the client asked for one (``stream_options.include_usage``), then ``[DONE]``."""
    base = {"id": _completion_id(), "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"reasoning_content": part}) for part in split_text(answer.reasoning_content or "")]
    events += [event({"content": part}) for part in split_text(answer.content or "")]
    for i, call in enumerate(answer.tool_calls or ()):
        fn = call.get("function") or {}
        events.append(
            event(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call.get("id"),
                            "type": call.get("type", "function"),
                            "function": {"name": fn.get("name", ""), "arguments": fn.get("arguments", "")},
                        }
                    ]
                }
            )
        )
    events.append(event({}, answer.finish_reason))
    if include_usage and answer.usage is not None:
        events.append(b"data: " + orjson.dumps({**base, "choices": [], "usage": answer.usage}) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


async def iterate(events: list[bytes]) -> AsyncIterator[bytes]:
    """Prepared events as the async iterator :class:`~semrouter.context.LocalResponse` streams from."""
    for e in events:
        yield e
