"""What serving /v1/responses and /v1/messages by translation adds per request, against /v1/chat/completions
on the same prompt.

    python bench/api_translation.py [--n 5000] [--turns 1] [--json]

Measured in-process, one request at a time, the translation functions only (no sockets, no workers, no
other stages), so the figure is the translation's own CPU cost:

* chat (the baseline): ``decode_body`` of the chat body, which the parse stage does for every chat request;
  its answer goes to the client untouched;
* responses / messages: the dialect's ``to_chat`` (decode, validate, translate), its ``settle`` (the
  reasoning wish and the answer filter) and the answer's translation through ``AnswerFilter``: once for a
  non-streamed JSON answer, once for a 64-token SSE stream (the Responses stream also stores the turn for
  ``previous_response_id``).

"added p50" is the p50 of (translation path - chat path) per request. The prompt is about 64 tokens with a
system prompt and one function tool; ``--turns`` adds earlier turns to the history.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from semrouter.adapters.messages import MessagesDialect
from semrouter.adapters.responses import ConversationStore, ResponsesDialect
from semrouter.adapters.translate import AnswerFilter, Dialect
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext
from semrouter.stages.parse import decode_body

PROMPT = (
    "I'm planning a three day trip to Lisbon in early May with my partner; we like food markets, old trams and "
    "a bit of hiking. Could you sketch a day by day plan and say which neighbourhoods to stay in?"
)
SYSTEM = "You are a helpful travel assistant. Keep answers short."
PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

CONFIG = RouterConfig.model_validate(
    {
        "models": [{"name": "m1", "family": "qwen3", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
        "decisions": [{"name": "default", "models": [{"model": "m1"}]}],
    }
)


def history(turns: int) -> list[tuple[str, str]]:
    return [(role, f"earlier {role} turn {i}: " + PROMPT[:80]) for i in range(turns) for role in ("user", "assistant")]


def bodies(turns: int, stream: bool) -> dict[str, bytes]:
    past = history(turns)
    chat = {
        "model": "m1",
        "messages": [
            {"role": "system", "content": SYSTEM},
            *[{"role": r, "content": t} for r, t in past],
            {"role": "user", "content": PROMPT},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": PARAMS}}],
        "max_tokens": 256,
        "stream": stream,
    }
    responses = {
        "model": "m1",
        "instructions": SYSTEM,
        "input": [{"role": r, "content": t} for r, t in past] + [{"role": "user", "content": PROMPT}],
        "tools": [{"type": "function", "name": "weather", "parameters": PARAMS}],
        "max_output_tokens": 256,
        "stream": stream,
    }
    messages = {
        "model": "m1",
        "system": SYSTEM,
        "messages": [{"role": r, "content": t} for r, t in past] + [{"role": "user", "content": PROMPT}],
        "tools": [{"name": "weather", "input_schema": PARAMS}],
        "max_tokens": 256,
        "stream": stream,
    }
    return {k: orjson.dumps(v) for k, v in (("chat", chat), ("responses", responses), ("messages", messages))}


def answer(stream: bool, tokens: int = 64) -> list[bytes]:
    """A worker's chat answer: one JSON body, or an SSE stream of ``tokens`` content chunks plus usage."""
    words = [f" word{i}" for i in range(tokens)]
    usage = {"prompt_tokens": 90, "completion_tokens": tokens, "total_tokens": 90 + tokens}
    if not stream:
        msg = {"role": "assistant", "content": "".join(words)}
        body = {"id": "c", "object": "chat.completion", "model": "m1", "usage": usage}
        return [orjson.dumps({**body, "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}]})]
    base = {"id": "c", "object": "chat.completion.chunk", "model": "m1"}

    def ev(obj: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps({**base, **obj}) + b"\n\n"

    out = [ev({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})]
    out += [ev({"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}) for w in words]
    out += [ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}), ev({"choices": [], "usage": usage})]
    return [*out, b"data: [DONE]\n\n"]


def chat_path(raw: bytes, chunks: list[bytes]) -> None:
    decode_body(raw, 64)


def dialect_path(make: Callable[[], Dialect]) -> Callable[[bytes, list[bytes]], None]:
    def run(raw: bytes, chunks: list[bytes]) -> None:
        d = make()
        ctx = RequestContext(ApiKind.CHAT, raw, {}, CONFIG)
        ctx.body = d.to_chat(ctx)
        ctx.model = "m1"
        d.settle(ctx, None)
        f = ctx.response_filters[-1]
        assert isinstance(f, AnswerFilter)
        for c in chunks:
            f.feed(c)
        f.finish()

    return run


def timed(fn: Callable[[bytes, list[bytes]], None], raw: bytes, chunks: list[bytes]) -> float:
    t0 = time.perf_counter()
    fn(raw, chunks)
    return (time.perf_counter() - t0) * 1e3


def measure(n: int, turns: int) -> list[dict[str, Any]]:
    store = ConversationStore()
    makers: dict[str, Callable[[], Dialect]] = {
        "responses": lambda: ResponsesDialect(store),
        "messages": MessagesDialect,
    }
    rows = []
    for stream in (False, True):
        raws, chunks = bodies(turns, stream), answer(stream)
        for api, make in makers.items():
            path = dialect_path(make)
            for _ in range(min(500, n)):  # warm-up
                chat_path(raws["chat"], chunks)
                path(raws[api], chunks)
            added, base, total = [], [], []
            for _ in range(n):  # interleaved, so drift on a shared machine hits both sides alike
                b = timed(chat_path, raws["chat"], chunks)
                t = timed(path, raws[api], chunks)
                base.append(b)
                total.append(t)
                added.append(t - b)
            rows.append(
                {
                    "api": api,
                    "stream": stream,
                    "chat_p50_ms": round(statistics.median(base), 4),
                    "translated_p50_ms": round(statistics.median(total), 4),
                    "added_p50_ms": round(statistics.median(added), 4),
                    "added_p99_ms": round(sorted(added)[int(0.99 * len(added))], 4),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--turns", type=int, default=0, help="earlier user/assistant turns in the history")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = measure(args.n, args.turns)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'api':<10} {'stream':<7} {'chat p50':>9} {'translated p50':>15} {'added p50':>10} {'added p99':>10}  (ms)")
    for r in rows:
        print(
            f"{r['api']:<10} {r['stream']!s:<7} {r['chat_p50_ms']:>9.4f} {r['translated_p50_ms']:>15.4f}"
            f" {r['added_p50_ms']:>10.4f} {r['added_p99_ms']:>10.4f}"
        )


if __name__ == "__main__":
    main()
