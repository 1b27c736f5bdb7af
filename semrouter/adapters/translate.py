"""What the two translated client APIs (OpenAI Responses, Anthropic Messages) share.

Why translate at all: every stage of the router (signals, decisions, guards, the cache, reasoning dialects,
tool selection) reads and rewrites a chat completions body, and nearly every worker (vLLM, SGLang,
llama.cpp) speaks chat completions. So a ``/v1/responses`` or ``/v1/messages`` body becomes a chat body in
the parse stage (:meth:`Dialect.to_chat`), the unchanged pipeline runs on it, the worker gets chat
completions, and the answer comes back through one response filter (:class:`AnswerFilter`) that turns a
chat completion, or its SSE chunks, into the calling API's shape. Answers the router makes itself (cache
hits, blocks) and its errors take the same way back, so a client never sees another API's shape.

One :class:`Dialect` object per request holds what the answer needs from the request (the response id,
the client's reasoning wish, its echo fields). The stream side is written once here: chat deltas become
a sequence of content blocks (reasoning, text, one per tool call), and each dialect only renders a
block's start, delta and stop, and the answer's start and end, in its own events.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from semrouter.context import BodyFilter, LocalResponse, RequestContext
from semrouter.errors import RouterError, invalid_request
from semrouter.stages.enrich import apply_reasoning
from semrouter.stages.parse import decode_body

CHAT_PATH = "/v1/chat/completions"
"""Where a translated request goes on the worker."""


def new_id(prefix: str) -> str:
    """An id like the real APIs' (``resp_…``, ``msg_…``): 24 random hex digits after the prefix."""
    return prefix + os.urandom(12).hex()


def tenant_of(ctx: RequestContext) -> str:
    """Who the request belongs to, for the stored conversations: ``ctx.tenant``, the same partition the
    cache uses (the tenant header, or the API key's tenant with tenancy on); "" without one."""
    return ctx.tenant or ""


# -- request side -------------------------------------------------------------------------------------


def type_error(param: str, expected: str, value: Any) -> RouterError:
    got = type(value).__name__ if value is not None else "null"
    return invalid_request(f"'{param}' must be {expected}, got {got}", param=param, code="invalid_type")


def unsupported(param: str, why: str) -> RouterError:
    """A field the router cannot honour: a 400 naming it, never a silent drop (docs/apis.md lists them)."""
    return invalid_request(f"Unsupported parameter: '{param}': {why}", param=param, code="unsupported_parameter")


def load_object(ctx: RequestContext) -> dict[str, Any]:
    body = decode_body(ctx.raw_body, ctx.config.server.max_json_depth)
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object", code="invalid_body")
    return body


def check_fields(body: dict[str, Any], known: frozenset[str], api: str) -> None:
    """Every field must be one the translation reads: an unknown one is a 400, so no client option
    silently changes nothing."""
    for name in body:
        if name not in known:
            raise unsupported(name, f"this router does not support it on {api} (see docs/apis.md)")


def copy_number(body: dict[str, Any], chat: dict[str, Any], name: str, to: str | None = None) -> None:
    v = body.get(name)
    if v is None:
        return
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise type_error(name, "a number", v)
    chat[to or name] = v


def positive_int(body: dict[str, Any], name: str) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise invalid_request(f"'{name}' must be a positive integer", param=name, code="invalid_value")
    return v


def stream_flag(body: dict[str, Any]) -> bool:
    v = body.get("stream", False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise type_error("stream", "a boolean", v)
    return v


# -- answer side ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Block:
    """One piece of the answer: the model's reasoning, its text, or one tool call (``text``: the arguments)."""

    kind: str  # "reasoning" | "text" | "tool"
    text: str = ""  # the whole of it (a stream's pieces are joined when the block closes)
    call_id: str = ""
    name: str = ""
    item_id: str = ""
    parts: list[str] = field(default_factory=list)  # a stream's pieces so far (joined once, not per piece)


@dataclass(slots=True)
class Answer:
    """A chat answer in blocks, with how it ended: what both dialects render their final object from."""

    blocks: list[Block] = field(default_factory=list)
    finish: str | None = None  # the chat finish_reason
    stop_match: Any = None  # vLLM's ``stop_reason``: the stop string that ended the answer, if one did
    usage: dict[str, Any] | None = None


def usage_numbers(usage: dict[str, Any] | None) -> tuple[int, int, int, int]:
    """(prompt, completion, cached prompt, reasoning) tokens of a chat ``usage``; zeros where absent."""
    if not isinstance(usage, dict):
        return 0, 0, 0, 0
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    pd = usage.get("prompt_tokens_details")
    cd = usage.get("completion_tokens_details")
    cached = (pd.get("cached_tokens") or 0) if isinstance(pd, dict) else 0
    reasoning = (cd.get("reasoning_tokens") or 0) if isinstance(cd, dict) else 0
    return int(prompt), int(completion), int(cached), int(reasoning)


def answer_from_json(obj: dict[str, Any]) -> Answer:
    """A whole chat completion (first choice) as blocks."""
    ans = Answer(usage=obj.get("usage"))
    choices = obj.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    ans.finish = choice.get("finish_reason")
    ans.stop_match = choice.get("stop_reason")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        ans.blocks.append(Block("reasoning", reasoning))
    content = message.get("content")
    if isinstance(content, str) and content:
        ans.blocks.append(Block("text", content))
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function") or {} if isinstance(tc, dict) else {}
        ans.blocks.append(
            Block(
                "tool", str(fn.get("arguments") or ""), call_id=str(tc.get("id") or ""), name=str(fn.get("name") or "")
            )
        )
    return ans


class Dialect:
    """One request of a translated API: the request's translation, and how its answers are written.

    Subclasses implement :meth:`to_chat` and the render methods; the rest is shared.
    """

    def __init__(self) -> None:
        self.stream = False
        # The client's own reasoning wish (on, effort), or None when it said nothing.
        self.reasoning: tuple[bool, str | None] | None = None
        # Whether the request may go to a worker in this API itself (only Responses does; settle decides,
        # and the proxy turns it off for a cascade, which judges chat answers).
        self.native_ok = False

    # request

    def to_chat(self, ctx: RequestContext) -> dict[str, Any]:
        raise NotImplementedError

    def native_request(self, ctx: RequestContext, model: str, served: str) -> tuple[str, bytes] | None:
        """(path, body) for a worker that speaks this API itself; None: chat completions (the default)."""
        return None

    def native_relay(self, ctx: RequestContext) -> BodyFilter | None:
        """The filter for an answer a worker gave in this API itself (``ctx.upstream.native``)."""
        return None

    def settle(self, ctx: RequestContext, local: LocalResponse | None) -> LocalResponse | None:
        """After the pipeline: a local answer (cache hit, block) in this API's shape; an upstream request
        gets the client's reasoning wish in the chosen model's dialect and the answer's translation."""
        if local is not None:
            return self.translate_local(ctx, local)
        self.apply_reasoning(ctx)
        ctx.response_filters.append(AnswerFilter(self, ctx))  # last: the other filters read chat
        return None

    def apply_reasoning(self, ctx: RequestContext) -> None:
        """The client's ``thinking`` / ``reasoning.effort`` as the chosen model's family switches reasoning.

        The translation wrote the wish as chat's ``reasoning_effort`` (so the cache key sees it and the
        parse stage counts it as the client's reasoning field). Whether it stands is chat's rule: always
        for an explicit model, for a routed one only with ``reasoning.client_fields: respect``; otherwise
        the decision's switch (already applied by the enrich stage) wins and the neutral field goes.
        """
        wish = self.reasoning
        if wish is None or ctx.model is None:
            return
        body = ctx.body
        model_cfg = ctx.config.model(ctx.model)
        family = ctx.config.reasoning_families.get(model_cfg.family) if model_cfg and model_cfg.family else None
        stands = not ctx.routed or ctx.config.reasoning.client_fields == "respect"
        on, effort = wish
        if family is not None and family.path != "reasoning_effort":
            body.pop("reasoning_effort", None)
        if stands:
            if family is not None:
                apply_reasoning(body, family, on, effort or "medium")
            elif not on:
                body.pop("reasoning_effort", None)
            ctx.reasoning, ctx.reasoning_effort = on, (effort if on else None)
        elif family is None and not on:
            body.pop("reasoning_effort", None)
        ctx.body_modified = True

    # answers the router makes itself, errors

    def translate_local(self, ctx: RequestContext, local: LocalResponse) -> LocalResponse:
        f = AnswerFilter(self, ctx)
        if local.chunks is None:
            return LocalResponse(local.status, f.feed(local.body) + f.finish(), local.headers, local.content_type)
        return LocalResponse(
            local.status, headers=local.headers, content_type=local.content_type, chunks=_translated(f, local.chunks)
        )

    @staticmethod
    def error_body(err: RouterError) -> bytes:
        """A router error in this API's shape (OpenAI's by default)."""
        return err.body()

    def error_from_chat(self, error: dict[str, Any]) -> bytes:
        """A worker's (OpenAI-shaped) error body in this API's shape."""
        return orjson.dumps({"error": error})

    # what the subclasses render

    def render(self, ctx: RequestContext, ans: Answer) -> bytes:
        raise NotImplementedError

    def stream_start(self, ctx: RequestContext) -> bytes:
        raise NotImplementedError

    def block_start(self, index: int, block: Block) -> bytes:
        raise NotImplementedError

    def block_delta(self, index: int, block: Block, piece: str) -> bytes:
        raise NotImplementedError

    def block_stop(self, index: int, block: Block) -> bytes:
        raise NotImplementedError

    def stream_end(self, ctx: RequestContext, ans: Answer) -> bytes:
        raise NotImplementedError

    def stream_error(self, error: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def completed(self, ctx: RequestContext, ans: Answer) -> None:
        """The whole answer reached the filter (the Responses API keeps the conversation here)."""


async def _translated(f: AnswerFilter, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if out := f.feed(chunk):
            yield out
    if tail := f.finish():
        yield tail


class AnswerFilter:
    """A chat answer (one JSON body, or SSE split anywhere) into the dialect's shape, as a response filter.

    The first bytes say which: ``{`` is a whole JSON body (a completion or an error, kept until
    ``finish``), ``data:``/``:``/``event:`` is a stream (translated line by line as it arrives); anything
    else (a proxy's HTML error page) passes through untouched.
    """

    __slots__ = ("_buf", "_cur", "_ended", "_failed", "_mode", "_native", "_started", "_tools", "ans", "ctx", "d")

    def __init__(self, dialect: Dialect, ctx: RequestContext) -> None:
        self.d = dialect
        self.ctx = ctx
        self._mode = ""  # "", "json", "sse", "raw"
        self._buf = b""
        self.ans = Answer()
        self._cur = -1  # index of the open block, -1: none
        self._tools: dict[int, int] = {}  # chat tool-call index → block index
        self._started = self._ended = self._failed = False
        self._native: BodyFilter | None = None  # the relay of a native answer, which is not translated

    def feed(self, data: bytes) -> bytes:
        mode = self._mode
        if not mode and self.ctx.upstream.native and (relay := self.d.native_relay(self.ctx)) is not None:
            self._native, self._mode = relay, mode = relay, "native"
        if mode == "native":
            assert self._native is not None
            return self._native.feed(data)
        if mode == "sse":
            if not self._buf and data[-2:] == b"\n\n" and data.count(b"\n") == 2 and data[:5] == b"data:":
                return self._line(data[:-2])  # the common chunk: one whole event (a worker flushes per token)
            if b"\n" not in data:
                self._buf += data
                return b""
            buf = self._buf + data if self._buf else data
            lines = buf.split(b"\n")
            self._buf = lines.pop()
            out = [self._line(line) for line in lines if line.startswith(b"data:")]  # event names: ours instead
            return b"".join(out) if out else b""
        if not mode:
            head = data.lstrip()
            if not head:
                self._buf += data
                return b""
            c = head[:1]
            self._mode = "json" if c == b"{" else "sse" if c in (b"d", b":", b"e") else "raw"
            if self._mode == "sse":
                buf, self._buf = self._buf, b""
                return self.feed(buf + data)
        if self._mode == "raw":
            out_raw, self._buf = self._buf + data, b""
            return out_raw
        self._buf += data  # json: the whole body, at finish
        return b""

    def finish(self) -> bytes:
        if self._native is not None:
            return self._native.finish()
        if not self._mode and self.ctx.upstream.native:
            return b""  # a native worker that sent nothing: nothing to relay, nothing to make up
        buf, self._buf = self._buf, b""
        if self._mode == "json":
            return self._json(buf)
        if self._mode == "raw":
            return buf
        out = self._line(buf) if buf.startswith(b"data:") else b""
        return out + self._end()

    def _json(self, raw: bytes) -> bytes:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
        if not isinstance(obj, dict):
            return raw
        err = obj.get("error")
        if isinstance(err, dict):
            return self.d.error_from_chat(err)
        if not isinstance(obj.get("choices"), list):
            return raw
        ans = answer_from_json(obj)
        self.d.completed(self.ctx, ans)
        return self.d.render(self.ctx, ans)

    def _line(self, line: bytes) -> bytes:
        payload = line[5:]  # orjson skips the whitespace around the JSON itself
        if payload[:1] != b"{" and payload[:2] != b" {" and b"[DONE]" in payload[:8]:
            return self._end()
        if self._failed:
            return b""
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(obj, dict):
            return b""
        out = b"" if self._started else self._start()
        choices = obj.get("choices")
        if choices:  # the common case first: one choice whose delta is a piece of text
            choice = choices[0]
            if isinstance(choice, dict) and not choice.get("index"):
                delta = choice.get("delta")
                if delta:
                    content = delta.get("content")
                    if len(delta) == 1 and content and isinstance(content, str):
                        return out + self._piece("text", content)
                    out += self._delta(delta)
                if choice.get("finish_reason"):
                    self.ans.finish = choice["finish_reason"]
                    self.ans.stop_match = choice.get("stop_reason")
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.ans.usage = usage
        err = obj.get("error")
        if isinstance(err, dict):
            self._failed = True
            return out + self.d.stream_error(err)
        return out

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self.d.stream_start(self.ctx)

    def _delta(self, delta: dict[str, Any]) -> bytes:
        out = b""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._piece("reasoning", reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            out += self._piece("text", content)
        for tc in delta.get("tool_calls") or ():
            if isinstance(tc, dict):
                out += self._tool(tc)
        return out

    def _close(self) -> bytes:
        if self._cur < 0:
            return b""
        i, self._cur = self._cur, -1
        block = self.ans.blocks[i]
        block.text = "".join(block.parts)
        return self.d.block_stop(i, block)

    def _open(self, block: Block) -> bytes:
        out = self._close()
        self.ans.blocks.append(block)
        self._cur = len(self.ans.blocks) - 1
        return out + self.d.block_start(self._cur, block)

    def _piece(self, kind: str, text: str) -> bytes:
        cur = self._cur
        if cur >= 0 and self.ans.blocks[cur].kind == kind:
            block = self.ans.blocks[cur]
            block.parts.append(text)
            return self.d.block_delta(cur, block, text)
        out = self._open(Block(kind))
        block = self.ans.blocks[self._cur]
        block.parts.append(text)
        return out + self.d.block_delta(self._cur, block, text)

    def _tool(self, tc: dict[str, Any]) -> bytes:
        fn = tc.get("function") or {}
        key = tc.get("index", 0)
        out = b""
        i = self._tools.get(key)
        if i is None:
            block = Block("tool", call_id=str(tc.get("id") or new_id("call_")), name=str(fn.get("name") or ""))
            out = self._open(block)
            i = self._tools[key] = self._cur
        block = self.ans.blocks[i]
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            block.parts.append(args)
            if i == self._cur:  # a closed block takes no more events; its arguments still reach the end
                out += self.d.block_delta(i, block, args)
        return out

    def _end(self) -> bytes:
        if self._ended or self._failed:
            return b""
        self._ended = True
        out = self._start() + self._close()
        for block in self.ans.blocks:
            block.text = "".join(block.parts)  # a tool call's arguments may have come after its block closed
        self.d.completed(self.ctx, self.ans)
        return out + self.d.stream_end(self.ctx, self.ans)


def sse(event: str, payload: dict[str, Any]) -> bytes:
    """One server-sent event with a name, as both translated APIs send them."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
