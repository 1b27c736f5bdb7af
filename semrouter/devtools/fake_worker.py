"""A fake OpenAI-compatible worker that stands in for vLLM in tests, benchmarks and the demo.

It answers like a vLLM server (non-streamed JSON, SSE streams with usage, ``/v1/models``,
``/health``) at a configurable latency and token rate, and *echoes what it received*: the model
name, system prompt, reasoning fields and tool names appear in the answer (``echo`` field) and in the
``x-fake-worker-echo`` header, so tests can check exactly what the router sent. Recent requests,
with whether their stream completed or was cancelled, are listed at ``GET /debug/requests``.
Request headers steer it per request: ``x-fake-status`` (answer with that error status),
``x-fake-latency-ms``, ``x-fake-response-headers`` (a JSON object of headers to add to the answer),
``x-fake-finish`` (the finish_reason; otherwise "length" when ``max_tokens`` cut
the answer short, else "stop"), and ``x-fake-reply`` (the answer text, streamed in ``x-fake-reply-chunk``-character
pieces) for tests that need a particular answer; ``x-fake-tool-call`` (a JSON object with ``name`` and ``arguments``)
makes the answer a call of that tool (streamed: the name, then the arguments in two pieces).
``POST /v1/responses`` answers as a worker that speaks the Responses API natively (a Response object or its
event stream, with the same kind of echo: model, instructions, reasoning, tools).

``x-fake-cue`` plays an answer's quality for the cascade's tests: comma-separated ``[model=]cue`` items (a
``model=`` item only for the worker playing that model, so one header can steer a cheap and a strong worker
differently): ``refuse`` (a refusal), ``empty`` (no text), ``truncate`` (finish_reason "length"), ``unsure``
(low token log-probabilities), ``random`` (different words each time, so two samples disagree), ``fail``
(a 500). A request with ``logprobs: true`` gets per-token ``logprobs`` (-0.05 each, -2.5 when ``unsure``), as
vLLM returns them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client went away first."""
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


@dataclass
class FakeWorkerSettings:
    model: str = "fake-model"
    latency_ms: float = 0.0  # before the first token
    tokens_per_s: float = 0.0  # 0: as fast as possible
    fail_rate: float = 0.0  # share of requests answered 503
    reply_tokens: int = 16  # answer length unless max_tokens is smaller
    history: int = 500  # requests remembered for /debug/requests


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def build_echo(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    raw = body.get("messages")
    messages: list[Any] = raw if isinstance(raw, list) else []
    system = [_content_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "system"]
    tools = []
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and "name" in fn:
            tools.append(fn["name"])
    return {
        "model": body.get("model"),
        "system_prompt": "\n".join(system) if system else None,
        "chat_template_kwargs": body.get("chat_template_kwargs"),
        "reasoning_effort": body.get("reasoning_effort"),
        "tools": tools,
        "request_id": headers.get("x-request-id"),
        "traceparent": headers.get("traceparent"),
        "authorization": headers.get("authorization"),
        "session": headers.get("x-session-id"),
    }


CUE_REFUSAL = "I'm sorry, but I can't help with that request."
CONFIDENT_LOGPROB, UNSURE_LOGPROB = -0.05, -2.5


def fake_cue(header: str | None, model: str) -> str | None:
    """The ``x-fake-cue`` item for this worker: its own ``model=cue`` first, else an unscoped ``cue``."""
    if not header:
        return None
    mine = other = None
    for item in header.split(","):
        name, eq, cue = item.strip().rpartition("=")
        if eq and name == model:
            mine = cue
        elif not eq:
            other = cue
    return mine or other


def _logprobs(tokens: list[str], value: float) -> dict[str, Any]:
    return {"content": [{"token": t, "logprob": value, "bytes": None, "top_logprobs": []} for t in tokens if t]}


def tool_call_cue(header: str | None) -> dict[str, Any] | None:
    """``x-fake-tool-call: {"name": ..., "arguments": {...}}``: the answer calls that tool (chat's shape)."""
    if not header:
        return None
    cue = json.loads(header)
    args = cue.get("arguments", {})
    arguments = args if isinstance(args, str) else json.dumps(args)
    call_id = cue.get("id") or f"call_{uuid.uuid4().hex[:12]}"
    return {"id": call_id, "type": "function", "function": {"name": cue["name"], "arguments": arguments}}


def thinking_requested(body: dict[str, Any]) -> bool:
    kw = body.get("chat_template_kwargs")
    if isinstance(kw, dict) and (kw.get("enable_thinking") is True or kw.get("thinking") is True):
        return True
    return body.get("reasoning_effort") in ("medium", "high")


class FakeWorker:
    def __init__(self, settings: FakeWorkerSettings) -> None:
        self.s = settings
        self.requests: deque[dict[str, Any]] = deque(maxlen=settings.history)
        self.counts = {"requests": 0, "completed": 0, "cancelled": 0, "failed": 0}
        self._rng = random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/health":
            await self._json(send, 200, {"status": "ok"})
        elif method == "GET" and path == "/v1/models":
            await self._json(
                send,
                200,
                {
                    "object": "list",
                    "data": [{"id": self.s.model, "object": "model", "created": 0, "owned_by": "fake-worker"}],
                },
            )
        elif path == "/debug/requests":
            if method == "DELETE":
                self.requests.clear()
                self.counts = dict.fromkeys(self.counts, 0)
            await self._json(send, 200, {"counts": self.counts, "requests": list(self.requests)})
        elif method == "POST" and path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
            await self._generate(path, scope, receive, send)
        elif method == "POST" and path == "/v1/responses":
            await self._responses(scope, receive, send)
        else:
            await self._json(
                send, 404, {"error": {"message": f"no route {path}", "type": "not_found", "param": None, "code": None}}
            )

    @staticmethod
    async def _json(send: Send, status: int, obj: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        body = orjson.dumps(obj)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
        await send({"type": "http.response.body", "body": body})

    async def _generate(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await _read_body(receive)
        if raw is None:
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = orjson.loads(raw)
            assert isinstance(body, dict)
        except Exception:
            await self._json(
                send,
                400,
                {"error": {"message": "invalid JSON", "type": "invalid_request_error", "param": None, "code": None}},
            )
            return
        self.counts["requests"] += 1
        echo = build_echo(body, headers)
        record: dict[str, Any] = {
            "path": path,
            "echo": echo,
            "headers": headers,
            "body": body,
            "stream": bool(body.get("stream")),
            "completed": False,
            "cancelled": False,
            "time": time.time(),
        }
        self.requests.append(record)
        forced = headers.get("x-fake-status") or (
            "500" if fake_cue(headers.get("x-fake-cue"), self.s.model) == "fail" else None
        )
        if forced or (self.s.fail_rate and self._rng.random() < self.s.fail_rate):
            self.counts["failed"] += 1
            status = int(forced) if forced else 503
            await self._json(
                send,
                status,
                {"error": {"message": "fake worker failure", "type": "server_error", "param": None, "code": status}},
            )
            return
        echo_header = (
            b"x-fake-worker-echo",
            json.dumps(echo, ensure_ascii=True, separators=(",", ":")).encode(),
        )
        worker_header = (b"x-fake-worker-model", self.s.model.encode())
        cued = headers.get("x-fake-response-headers")  # a JSON object of extra headers to answer with
        worker_headers = [worker_header] + [
            (k.encode("latin-1"), str(v).encode("latin-1")) for k, v in (json.loads(cued) if cued else {}).items()
        ]
        latency = float(headers.get("x-fake-latency-ms", self.s.latency_ms)) / 1000
        if path == "/v1/embeddings":
            await asyncio.sleep(latency) if latency else None
            await self._json(send, 200, self._embeddings(body), [echo_header, *worker_headers])
            record["completed"] = True
            self.counts["completed"] += 1
            return
        n = self.s.reply_tokens
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        if isinstance(limit, int) and 0 < limit < n:
            n, finish = limit, "length"  # cut short by max_tokens, as vLLM reports it
        finish = headers.get("x-fake-finish", finish)
        tokens = self._tokens(max(n, 1))
        scripted = headers.get("x-fake-reply")
        cue = fake_cue(headers.get("x-fake-cue"), self.s.model)
        if cue == "refuse":
            scripted = CUE_REFUSAL
        elif cue == "empty":
            scripted = ""
        elif cue == "truncate":
            finish = "length"
        elif cue == "random":
            tokens = [f" r{self._rng.randrange(10**6)}" for _ in tokens]
        logprob = (UNSURE_LOGPROB if cue == "unsure" else CONFIDENT_LOGPROB) if body.get("logprobs") else None
        call = tool_call_cue(headers.get("x-fake-tool-call"))
        if call is not None:  # the answer is this one tool call (no text), as a model calling a tool ends
            scripted, finish = "", "tool_calls"
            record["tool_call"] = call
        if scripted is not None:  # a given answer, in pieces of x-fake-reply-chunk characters (default 4)
            size = max(1, int(headers.get("x-fake-reply-chunk", "4")))
            tokens = [scripted[i : i + size] for i in range(0, len(scripted), size)] or [""]
        reasoning = (
            ["Let", " me", " think", "."] if thinking_requested(body) and path.endswith("chat/completions") else []
        )
        if body.get("stream"):
            await self._stream(
                path,
                body,
                tokens,
                reasoning,
                latency,
                echo,
                [echo_header, *worker_headers],
                receive,
                send,
                record,
                finish,
                logprob,
            )
            return
        delay = latency + (len(tokens) + len(reasoning)) / self.s.tokens_per_s if self.s.tokens_per_s else latency
        if delay:
            await asyncio.sleep(delay)
        answer = self._completion(path, body, tokens, reasoning, echo, finish, logprob)
        if call is not None and path.endswith("chat/completions"):
            answer["choices"][0]["message"].update(content=None, tool_calls=[call])
        await self._json(send, 200, answer, [echo_header, *worker_headers])
        record["completed"] = True
        self.counts["completed"] += 1

    async def _responses(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/responses`` as a worker that speaks the Responses API natively: a Response object, or its
        event stream, whose ``echo`` (and ``x-fake-worker-echo``) shows the model, ``instructions``,
        ``reasoning``, tool names, ``store`` and ``previous_response_id`` it received. ``x-fake-status``,
        ``x-fake-reply`` and ``x-fake-tool-call`` steer it as on chat."""
        raw = await _read_body(receive)
        if raw is None:
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = orjson.loads(raw)
        self.counts["requests"] += 1
        tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        echo = {
            "model": body.get("model"),
            "instructions": body.get("instructions"),
            "reasoning": body.get("reasoning"),
            "tools": tools,
            "store": body.get("store"),
            "previous_response_id": body.get("previous_response_id"),
            "request_id": headers.get("x-request-id"),
        }
        record: dict[str, Any] = {"path": "/v1/responses", "echo": echo, "headers": headers, "body": body}
        record.update(stream=bool(body.get("stream")), completed=False, cancelled=False, time=time.time())
        self.requests.append(record)
        if forced := headers.get("x-fake-status"):
            self.counts["failed"] += 1
            error = {"message": "fake worker failure", "type": "server_error", "param": None, "code": None}
            await self._json(send, int(forced), {"error": error})
            return
        scripted = headers.get("x-fake-reply")
        n = self.s.reply_tokens
        limit = body.get("max_output_tokens")
        status = "completed"
        if isinstance(limit, int) and 0 < limit < n:
            n, status = limit, "incomplete"
        tokens = [scripted] if scripted is not None else self._tokens(max(n, 1))
        text = "".join(tokens)
        msg_id = f"msg_{uuid.uuid4().hex[:24]}"
        items: list[dict[str, Any]] = []
        call = tool_call_cue(headers.get("x-fake-tool-call"))
        if call is not None:
            fn = call["function"]
            items.append(
                {
                    "type": "function_call",
                    "id": f"fc_{uuid.uuid4().hex[:24]}",
                    "call_id": call["id"],
                    "name": fn["name"],
                    "arguments": fn["arguments"],
                    "status": "completed",
                }
            )
        else:
            part = {"type": "output_text", "text": text, "annotations": []}
            items.append(
                {"type": "message", "id": msg_id, "status": "completed", "role": "assistant", "content": [part]}
            )
        prompt_tokens = max(1, len(json.dumps(body.get("input") or "")) // 4)
        response: dict[str, Any] = {
            "id": f"resp_worker{uuid.uuid4().hex[:16]}",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "error": None,
            "model": body.get("model"),
            "instructions": body.get("instructions"),
            "output": items,
            "parallel_tool_calls": True,
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "reasoning": body.get("reasoning") or {},
            "store": body.get("store", True),
            "previous_response_id": body.get("previous_response_id"),
            "metadata": body.get("metadata") or {},
            "usage": {
                "input_tokens": prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": len(tokens),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt_tokens + len(tokens),
            },
            "echo": echo,
        }
        extra = [(b"x-fake-worker-echo", json.dumps(echo, separators=(",", ":")).encode())]
        extra.append((b"x-fake-worker-model", self.s.model.encode()))
        if not body.get("stream"):
            await self._json(send, 200, response, extra)
        else:
            seq = iter(range(1 << 30))

            def ev(kind: str, **payload: Any) -> bytes:
                data = orjson.dumps({"type": kind, "sequence_number": next(seq), **payload})
                return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

            start = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
            pieces = [ev("response.created", response=start), ev("response.in_progress", response=start)]
            item = items[0]
            if item["type"] == "message":
                where = {"item_id": msg_id, "output_index": 0}
                pieces.append(ev("response.output_item.added", output_index=0, item={**item, "content": []}))
                empty = {"type": "output_text", "text": "", "annotations": []}
                pieces.append(ev("response.content_part.added", **where, content_index=0, part=empty))
                pieces += [
                    ev("response.output_text.delta", **where, content_index=0, delta=t, logprobs=[]) for t in tokens
                ]
                pieces.append(ev("response.output_text.done", **where, content_index=0, text=text, logprobs=[]))
                pieces.append(ev("response.content_part.done", **where, content_index=0, part=item["content"][0]))
            else:
                pieces.append(ev("response.output_item.added", output_index=0, item={**item, "arguments": ""}))
                where = {"item_id": item["id"], "output_index": 0}
                pieces.append(ev("response.function_call_arguments.delta", **where, delta=item["arguments"]))
                pieces.append(ev("response.function_call_arguments.done", **where, arguments=item["arguments"]))
            pieces.append(ev("response.output_item.done", output_index=0, item=item))
            final = "response.completed" if status == "completed" else "response.incomplete"
            pieces.append(ev(final, response=response))
            head = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), *extra]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            for piece in pieces:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        record["completed"] = True
        self.counts["completed"] += 1

    def _tokens(self, n: int) -> list[str]:
        """``n`` (at least one) deterministic tokens, the first naming the model the worker plays."""
        return [f"Answer from {self.s.model}:"] + [f" w{i}" for i in range(1, n)]

    @staticmethod
    def _usage(body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
        text = json.dumps(body.get("messages") or body.get("prompt") or "")
        prompt_tokens = max(1, len(text) // 4)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _completion(
        self,
        path: str,
        body: dict[str, Any],
        tokens: list[str],
        reasoning: list[str],
        echo: dict[str, Any],
        finish: str = "stop",
        logprob: float | None = None,
    ) -> dict[str, Any]:
        text = "".join(tokens)
        usage = self._usage(body, len(tokens) + len(reasoning))
        if path.endswith("chat/completions"):
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if reasoning:
                message["reasoning_content"] = "".join(reasoning)
            choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
            if logprob is not None:
                choice["logprobs"] = _logprobs(tokens, logprob)
            return {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [choice],
                "usage": usage,
                "echo": echo,
            }
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            "usage": usage,
            "echo": echo,
        }

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = []
        for i, item in enumerate(items):
            digest = hashlib.sha256(str(item).encode()).digest()
            data.append({"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]})
        return {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": len(items), "total_tokens": len(items)},
        }

    async def _stream(
        self,
        path: str,
        body: dict[str, Any],
        tokens: list[str],
        reasoning: list[str],
        latency: float,
        echo: dict[str, Any],
        extra: list[tuple[bytes, bytes]],
        receive: Receive,
        send: Send,
        record: dict[str, Any],
        finish: str = "stop",
        logprob: float | None = None,
    ) -> None:
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        chat = path.endswith("chat/completions")
        cid = f"chatcmpl-{uuid.uuid4().hex}" if chat else f"cmpl-{uuid.uuid4().hex}"
        base = {
            "id": cid,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model"),
        }
        gap = 1 / self.s.tokens_per_s if self.s.tokens_per_s else 0.0

        def event(choice: dict[str, Any], **more: Any) -> bytes:
            return b"data: " + orjson.dumps({**base, "choices": [choice] if choice else [], **more}) + b"\n\n"

        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream"),
                        (b"cache-control", b"no-cache"),
                        *extra,
                    ],
                }
            )
            if latency:
                await asyncio.sleep(latency)
            pieces: list[bytes] = []
            if chat:
                pieces.append(
                    event(
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None},
                        echo=echo,
                    )
                )
                pieces += [
                    event({"index": 0, "delta": {"reasoning_content": r}, "finish_reason": None}) for r in reasoning
                ]
                pieces += [
                    event(
                        {"index": 0, "delta": {"content": t}, "finish_reason": None}
                        | ({"logprobs": _logprobs([t], logprob)} if logprob is not None else {})
                    )
                    for t in tokens
                ]
                if (call := record.get("tool_call")) is not None:  # name first, arguments in two pieces
                    args, fn = call["function"]["arguments"], call["function"]["name"]
                    first = {**call, "index": 0, "function": {"name": fn, "arguments": args[: len(args) // 2]}}
                    rest = {"index": 0, "function": {"arguments": args[len(args) // 2 :]}}
                    pieces += [
                        event({"index": 0, "delta": {"tool_calls": [tc]}, "finish_reason": None})
                        for tc in (first, rest)
                    ]
                pieces.append(event({"index": 0, "delta": {}, "finish_reason": finish}))
            else:
                pieces += [event({"index": 0, "text": t, "finish_reason": None}) for t in tokens]
                pieces.append(event({"index": 0, "text": "", "finish_reason": finish}))
            opts = body.get("stream_options")
            if isinstance(opts, dict) and opts.get("include_usage"):
                pieces.append(event({}, usage=self._usage(body, len(tokens) + len(reasoning))))
            pieces.append(b"data: [DONE]\n\n")
            for piece in pieces:
                if disconnected.is_set():
                    record["cancelled"] = True
                    self.counts["cancelled"] += 1
                    return
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                if gap:
                    await asyncio.sleep(gap)
            await send({"type": "http.response.body", "body": b""})
            record["completed"] = True
            self.counts["completed"] += 1
        finally:
            watcher.cancel()
