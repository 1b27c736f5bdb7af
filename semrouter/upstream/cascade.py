"""A quality-aware cascade: ask a cheaper model first, and a stronger one only when its answer looks unreliable.

Why: the query alone says little about whether a cheap model will answer it well (a head on our embedding
recovers only a little more than random on RouteLLM's MMLU outcomes), but the cheap model's own answer
says a lot: a refusal, an empty or cut-off answer, or low token log-probabilities are cheap to see and
mark the answers most worth paying for twice.

How (HTTP proxy only; Envoy calls the worker itself in ext_proc mode, so there is nothing to hold back):

* Non-streamed: the cheaper model's whole answer is read, judged (:func:`judge`), and either sent to the
  client or dropped for the next model. With ``disagreement`` two cheap samples are taken at once and
  escalate when their word sets overlap less than ``min_agreement``.
* Streamed: the first ``stream_window_tokens`` content tokens (at most ``stream_window_bytes`` bytes) are
  held back and judged; trouble in the window escalates before the client has seen a byte, otherwise the
  held bytes are sent and the rest is relayed as it comes. What happens after the window is not judged.
* The last model's answer is never judged: it is the answer.

The client gets one answer; ``x-vsr-cascade`` says what happened (``accepted:<model>``,
``escalated:<reason>``, ``skipped:<why>``). A dropped answer was paid for: its tokens and cost are kept on
:class:`CascadeNote` for the metrics and the decision log (a stream cut in its window has no usage event,
so its tokens are counted from the window and the prompt estimated at four characters a token).

Logprobs are asked of the cheaper models (``request_logprobs``) and taken out of the answer again unless
the client asked for them, so the client sees the answer it would have got without the cascade.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from semrouter import cpu
from semrouter.context import ApiKind
from semrouter.errors import RouterError
from semrouter.observe.usage import find_usage
from semrouter.upstream.client import UpstreamError, UpstreamResponse

if TYPE_CHECKING:
    from semrouter.config.schema import CascadeConfig, DecisionConfig, ModelConfig, RouterConfig
    from semrouter.context import RequestContext
    from semrouter.pool.endpoint import Endpoint
    from semrouter.pool.pool import ModelPool
    from semrouter.upstream.forward import Forwarder

# Refusals open the answer; the patterns are matched case-insensitively against its first characters.
DEFAULT_REFUSALS = (
    r"^\W*(i'm|i am|im)\s+(really\s+|very\s+)?(sorry|afraid)\b.{0,60}\b(can't|cannot|can not|unable|won't|not able)",
    r"^\W*(sorry,?\s+)?i\s+(can't|cannot|can not|won't|will not|am unable to|'m unable to|am not able to)\s+"
    r"(help|assist|answer|provide|do|comply|complete|fulfil|fulfill|share|give|write)",
    r"^\W*as an ai( language model| assistant)?\b",
    r"^\W*(unfortunately,?\s+)?i (don't|do not) (know|have (enough )?(information|access))",
    r"^\W*i'm not able to (help|assist|answer|provide)",
)
REFUSAL_SCAN_CHARS = 300
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=64)
def _refusal_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.DOTALL)


def is_refusal(text: str, patterns: list[str] | None = None) -> bool:
    """Whether the answer opens with a refusal (curly apostrophes count as straight ones)."""
    head = text[:REFUSAL_SCAN_CHARS].replace("\u2019", "'").strip()
    return bool(head) and _refusal_regex(tuple(patterns or DEFAULT_REFUSALS)).search(head) is not None


def agreement(a: str, b: str) -> float:
    """Word-set overlap (Jaccard) of two answers: 1 for the same words, 0 for none in common."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def mean_logprob(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else (-math.inf if values else None)


def judge(
    cfg: CascadeConfig,
    text: str,
    finish: str | None,
    logprobs: list[float],
    *,
    tool_calls: bool = False,
    capped: bool = False,
    complete: bool = True,
) -> str | None:
    """Why the answer looks unreliable (a cue of ``escalate_on``), or None to accept it.

    ``capped``: the client set max_tokens, so a ``length`` finish is what it asked for, not a failure.
    ``complete``: the whole answer was seen (a stream window may hold only its start).
    """
    cues = cfg.escalate_on
    if "empty" in cues and complete and not text.strip() and not tool_calls:
        return "empty"
    if "truncated" in cues and finish == "length" and not capped:
        return "truncated"
    if "refusal" in cues and is_refusal(text, cfg.refusal_patterns):
        return "refusal"
    if "low_logprob" in cues and logprobs:
        mean = mean_logprob(logprobs)
        if mean is not None and mean < cfg.min_mean_logprob:
            return "low_logprob"
    return None


@dataclass(slots=True)
class ChatAnswer:
    """What the judge reads from a non-streamed chat answer (choice 0)."""

    text: str = ""
    finish: str | None = None
    logprobs: list[float] = field(default_factory=list)
    tool_calls: bool = False


def read_answer(doc: Any) -> ChatAnswer | None:
    """Choice 0 of a chat completion, or None when the body is not one."""
    if not isinstance(doc, dict):
        return None
    choices = doc.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    raw = choice.get("message")
    message: dict[str, Any] = raw if isinstance(raw, dict) else {}
    content = message.get("content")
    out = ChatAnswer(text=content if isinstance(content, str) else "", finish=choice.get("finish_reason"))
    out.tool_calls = bool(message.get("tool_calls"))
    out.logprobs = _logprob_values(choice.get("logprobs"))
    return out


def _logprob_values(lp: Any) -> list[float]:
    items = lp.get("content") if isinstance(lp, dict) else None
    if not isinstance(items, list):
        return []
    return [float(t["logprob"]) for t in items if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))]


def strip_logprobs(doc: dict[str, Any]) -> None:
    for choice in doc.get("choices") or ():
        if isinstance(choice, dict):
            choice.pop("logprobs", None)


class StreamWindow:
    """Reads the SSE events of a streamed chat answer as they are held back: text, tokens, finish, usage."""

    __slots__ = ("buf", "done", "finish", "held_bytes", "logprobs", "text", "tokens", "tool_calls", "usage")

    def __init__(self) -> None:
        self.buf = b""
        self.text = ""
        self.tokens = 0
        self.logprobs: list[float] = []
        self.finish: str | None = None
        self.tool_calls = False
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.held_bytes = 0

    def feed(self, chunk: bytes) -> None:
        self.held_bytes += len(chunk)
        data = (self.buf + chunk).replace(b"\r\n", b"\n")
        *events, self.buf = data.split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    self._event(line[5:].strip())

    def _event(self, payload: bytes) -> None:
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict):
            return
        if isinstance(doc.get("usage"), dict):
            self.usage = doc["usage"]
        for choice in doc.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            raw = choice.get("delta")
            delta: dict[str, Any] = raw if isinstance(raw, dict) else {}
            content = delta.get("content")
            lps = _logprob_values(choice.get("logprobs"))
            if isinstance(content, str) and content:
                self.text += content
                self.tokens += len(lps) or 1
            self.logprobs += lps
            if delta.get("tool_calls"):
                self.tool_calls = True
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])

    def full(self, cfg: CascadeConfig) -> bool:
        """Enough seen to judge: the window's tokens or bytes, or the answer ended."""
        return (
            self.done
            or self.finish is not None
            or self.tokens >= cfg.stream_window_tokens
            or self.held_bytes >= cfg.stream_window_bytes
        )


class SseLogprobStripper:
    """Takes ``logprobs`` out of SSE events we asked them for; other events pass byte for byte."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.buf + chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self.buf = data
            return b""
        self.buf = data[end + 2 :]
        return b"\n\n".join(self._event(e) for e in data[:end].split(b"\n\n")) + b"\n\n"

    def finish(self) -> bytes:
        rest, self.buf = self.buf, b""
        return rest

    @staticmethod
    def _event(event: bytes) -> bytes:
        if b'"logprobs"' not in event or not event.startswith(b"data:"):
            return event
        try:
            doc = orjson.loads(event[5:].strip())
        except orjson.JSONDecodeError:
            return event
        if not isinstance(doc, dict):
            return event
        strip_logprobs(doc)
        return b"data: " + orjson.dumps(doc)


@dataclass(slots=True)
class Discarded:
    """An answer the cascade paid for and dropped."""

    model: str
    reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float
    estimated: bool = False  # counted from a stream cut in its window, not from the worker's usage


@dataclass(slots=True)
class CascadeNote:
    """What the cascade did for one request: read by the metrics and the decision log."""

    outcome: str  # accepted | escalated | skipped
    tried: list[str] = field(default_factory=list)
    reason: str | None = None  # why the last escalation happened, or why the cascade was skipped
    model: str | None = None  # whose answer the client got
    mean_logprob: float | None = None  # of the first model's answer, when it had logprobs
    discarded: list[Discarded] = field(default_factory=list)

    def header(self) -> str:
        if self.outcome == "accepted":
            return f"accepted:{self.model}"
        return f"{self.outcome}:{self.reason}"

    @property
    def discarded_cost(self) -> float:
        return sum(d.cost for d in self.discarded)

    def to_record(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "tried": list(self.tried),
            "model": self.model,
            "mean_logprob": round(self.mean_logprob, 4) if self.mean_logprob is not None else None,
            "discarded": [
                {
                    "model": d.model,
                    "reason": d.reason,
                    "prompt_tokens": d.prompt_tokens,
                    "completion_tokens": d.completion_tokens,
                    "cost": round(d.cost, 8),
                    "estimated": d.estimated,
                }
                for d in self.discarded
            ],
            "discarded_cost": round(self.discarded_cost, 8),
        }


def model_price(model: ModelConfig | None) -> float:
    return model.pricing.prompt_per_1m + model.pricing.completion_per_1m if model is not None else math.inf


def cascade_models(decision: DecisionConfig, config: RouterConfig) -> list[str]:
    """The cascade's models in the order they are tried: as configured, or the candidates cheapest first."""
    assert decision.cascade is not None
    if decision.cascade.models:
        return list(dict.fromkeys(decision.cascade.models))
    names = list(dict.fromkeys(m.model for m in decision.models))
    return sorted(names, key=lambda n: model_price(config.model(n)))  # stable: equal prices keep config order


def usage_cost(config: RouterConfig, model: str, prompt: int | None, completion: int | None) -> float:
    m = config.model(model)
    if m is None:
        return 0.0
    return ((prompt or 0) * m.pricing.prompt_per_1m + (completion or 0) * m.pricing.completion_per_1m) / 1e6


def plan(ctx: RequestContext) -> Cascade | None:
    """The cascade for this request, or None: only routed chat requests whose decision has one, and only
    while the chosen model is one of its models (a guard that sent the request to a safety model wins)."""
    decision = ctx.decision
    if decision is None or decision.cascade is None or not ctx.routed or ctx.api is not ApiKind.CHAT:
        return None
    models = cascade_models(decision, ctx.config)
    if ctx.model not in models:
        return None
    n = ctx.body.get("n")
    if isinstance(n, int) and n > 1:
        note = CascadeNote("skipped", reason="n>1", model=ctx.model)
        ctx.upstream.cascade = note
        ctx.response_headers["x-vsr-cascade"] = note.header()
        return None
    return Cascade(ctx, decision.cascade, models)


class HeldResponse:
    """The accepted cheaper answer, already (partly) read: what the proxy relays in its place.

    Non-streamed: the whole body (logprobs taken out when we added them). Streamed: the held window, then
    the rest of the upstream stream as it arrives, through the same logprob stripper.
    """

    def __init__(
        self, resp: UpstreamResponse, *, body: bytes | None = None, held: list[bytes] | None = None, strip: bool
    ) -> None:
        self.resp = resp
        self.status = resp.status
        self.headers = resp.headers
        self._body = body
        self._held = held or []
        self._strip = SseLogprobStripper() if strip else None

    async def read(self) -> bytes:
        if self._body is not None:
            return self._body
        return b"".join([chunk async for chunk in self.iter_chunks()])

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        strip = self._strip
        held, self._held = self._held, []
        for chunk in held:
            out = strip.feed(chunk) if strip is not None else chunk
            if out:
                yield out
        async for chunk in self.resp.iter_chunks():
            out = strip.feed(chunk) if strip is not None else chunk
            if out:
                yield out
        if strip is not None and (tail := strip.finish()):
            yield tail

    async def aclose(self) -> None:
        await self.resp.aclose()


class Cascade:
    """Runs one request's cascade through the forwarder (retries, fallbacks and endpoints as usual)."""

    def __init__(self, ctx: RequestContext, cfg: CascadeConfig, models: list[str]) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.models = models
        self.note = CascadeNote("accepted")
        base = dict(ctx.body)
        self.base = base
        self.client_logprobs = bool(base.get("logprobs"))
        self.capped = base.get("max_tokens") is not None or base.get("max_completion_tokens") is not None

    def _publish(self) -> None:
        self.ctx.upstream.cascade = self.note
        self.ctx.response_headers["x-vsr-cascade"] = self.note.header()
        self.ctx.response_headers["x-vsr-cascade-path"] = ",".join(self.note.tried)

    async def send(
        self,
        forwarder: Forwarder,
        pools: Mapping[str, ModelPool],
        path: str,
        headers: list[tuple[bytes, bytes]],
    ) -> UpstreamResponse | HeldResponse:
        """The answer to relay; the caller closes it and calls ``forwarder.finish(ctx)`` as for any answer."""
        ctx, note = self.ctx, self.note
        last = len(self.models) - 1
        for i, model in enumerate(self.models):
            body = {**self.base, "model": model}
            ask = i < last and self.cfg.request_logprobs and not self.client_logprobs
            if ask:  # top_logprobs too: llama.cpp's server returns chat logprobs only when it is set
                body["logprobs"] = True
                body.setdefault("top_logprobs", 1)
            ctx.body, ctx.body_modified, ctx.model = body, True, model
            note.tried.append(model)
            if i == last:
                self._publish()  # before the send: an error answer carries the header too
                resp = await forwarder.send(ctx, pools, path, headers)
                note.model = ctx.model
                self._publish()
                return resp
            held = await (self._try_stream if ctx.stream else self._try_json)(forwarder, pools, path, headers, ask)
            if held is not None:
                note.model = ctx.model
                self._publish()
                return held
            note.outcome = "escalated"
        raise AssertionError("unreachable: the last model always answers")

    # -- one cheaper attempt ---------------------------------------------------------------------------

    async def _send_one(
        self, forwarder: Forwarder, pools: Mapping[str, ModelPool], path: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[UpstreamResponse, Endpoint | None, str]:
        resp = await forwarder.send(self.ctx, pools, path, headers)
        return resp, self.ctx.endpoint, self.ctx.model or ""  # read before any other task runs

    def _drop(self, reason: str, model: str, usage: dict[str, Any] | None, estimated: int | None = None) -> None:
        """Record a paid-for answer that is not used and move on to the next model."""
        prompt = usage.get("prompt_tokens") if usage else None
        completion = usage.get("completion_tokens") if usage else estimated
        guessed = usage is None and estimated is not None
        if guessed:
            prompt = max(1, len(orjson.dumps(self.base.get("messages") or "")) // 4)
        p = prompt if isinstance(prompt, int) else None
        c = completion if isinstance(completion, int) else None
        self.note.reason = reason
        self.note.discarded.append(Discarded(model, reason, p, c, usage_cost(self.ctx.config, model, p, c), guessed))

    def _escalates(self, cue: str) -> bool:
        return cue in self.cfg.escalate_on

    async def _try_json(
        self,
        forwarder: Forwarder,
        pools: Mapping[str, ModelPool],
        path: str,
        headers: list[tuple[bytes, bytes]],
        asked: bool,
    ) -> HeldResponse | None:
        ctx, cfg = self.ctx, self.cfg
        model = ctx.model or ""
        two = self._escalates("disagreement")
        first: tuple[UpstreamResponse, Endpoint | None, str] | None = None
        second: tuple[UpstreamResponse, Endpoint | None, str] | None = None
        try:
            if two:
                got = await self._both(forwarder, pools, path, headers)
                for item in got:
                    if isinstance(item, BaseException) and not isinstance(item, RouterError):
                        raise item
                first = got[0] if not isinstance(got[0], BaseException) else None
                second = got[1] if not isinstance(got[1], BaseException) else None
                if first is None and second is not None:
                    first, second = second, None
                if first is None:
                    raise got[0]  # type: ignore[misc]
            else:
                first = await self._send_one(forwarder, pools, path, headers)
        except RouterError:
            if not self._escalates("error"):
                raise
            self._drop("error", model, None)
            return None
        resp, endpoint, model = first
        ctx.endpoint, ctx.model = endpoint, model
        try:
            body = await resp.read()
            other = await second[0].read() if second is not None and second[0].status < 400 else None
        except UpstreamError:
            body, other = b"", None
            resp_status = 502
        except BaseException:
            await self._close(resp, endpoint)
            await self._close_second(second)
            raise
        else:
            resp_status = resp.status
        if second is not None:
            await self._close_second(second)
            self._drop_second(second[2], other)
        doc: Any = None
        if resp_status < 400:
            try:
                doc = await cpu.run(len(body), orjson.loads, body)
            except orjson.JSONDecodeError:
                doc = None
        answer = read_answer(doc) if resp_status < 400 else None
        usage = find_usage(body) if body else None
        if answer is None:  # an error status, a broken body, or not a chat completion
            if not self._escalates("error"):
                if resp_status == 502 and resp.status != 502:  # broke mid-body: the proxy's own 502, as without
                    await self._close(resp, endpoint)
                    raise RouterError(
                        502,
                        "The upstream worker closed the connection mid-answer",
                        type="upstream_error",
                        code="upstream_error",
                    )
                return HeldResponse(resp, body=body, strip=False)
            await self._close(resp, endpoint)
            self._drop("error", model, usage)
            return None
        if answer.logprobs:
            self.note.mean_logprob = mean_logprob(answer.logprobs)
        reason = judge(
            cfg, answer.text, answer.finish, answer.logprobs, tool_calls=answer.tool_calls, capped=self.capped
        )
        if reason is None and other is not None:
            try:
                sample = read_answer(orjson.loads(other))
            except orjson.JSONDecodeError:
                sample = None
            if sample is not None and agreement(answer.text, sample.text) < cfg.min_agreement:
                reason = "disagreement"
        if reason is not None:
            await self._close(resp, endpoint)
            self._drop(reason, model, usage)
            return None
        if asked:
            assert isinstance(doc, dict)
            strip_logprobs(doc)
            body = orjson.dumps(doc)
        return HeldResponse(resp, body=body, strip=False)

    async def _both(
        self, forwarder: Forwarder, pools: Mapping[str, ModelPool], path: str, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[UpstreamResponse, Endpoint | None, str] | BaseException]:
        """Two samples at once; if we are cancelled meanwhile, whatever already answered is closed."""
        tasks = [asyncio.ensure_future(self._send_one(forwarder, pools, path, headers)) for _ in range(2)]
        try:
            await asyncio.wait(tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks)
            for t in tasks:
                if not t.cancelled() and t.exception() is None:
                    await self._close_second(t.result())
            raise
        return [t.exception() or t.result() for t in tasks]

    async def _try_stream(
        self,
        forwarder: Forwarder,
        pools: Mapping[str, ModelPool],
        path: str,
        headers: list[tuple[bytes, bytes]],
        asked: bool,
    ) -> HeldResponse | None:
        ctx, cfg = self.ctx, self.cfg
        model = ctx.model or ""
        try:
            resp, endpoint, model = await self._send_one(forwarder, pools, path, headers)
        except RouterError:
            if not self._escalates("error"):
                raise
            self._drop("error", model, None)
            return None
        streaming = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in resp.headers)
        if resp.status >= 400 or not streaming:
            if self._escalates("error") and resp.status >= 400:
                await self._close(resp, endpoint)
                self._drop("error", model, None)
                return None
            return HeldResponse(resp, strip=False)  # relayed as it is, like any answer
        window = StreamWindow()
        held: list[bytes] = []
        broken = False
        try:
            async for chunk in resp.iter_chunks():
                held.append(chunk)
                window.feed(chunk)
                if window.full(cfg):
                    break
        except UpstreamError:
            broken = True
        except BaseException:
            await self._close(resp, endpoint)
            raise
        complete = window.done or window.finish is not None
        if window.logprobs:
            self.note.mean_logprob = mean_logprob(window.logprobs)
        if broken:
            reason: str | None = "error" if self._escalates("error") else None
        else:
            reason = judge(
                cfg,
                window.text,
                window.finish,
                window.logprobs,
                tool_calls=window.tool_calls,
                capped=self.capped,
                complete=complete,
            )
        if reason is not None:
            await self._close(resp, endpoint)
            self._drop(reason, model, window.usage, estimated=window.tokens)
            return None
        return HeldResponse(resp, held=held, strip=asked)

    async def _close(self, resp: UpstreamResponse, endpoint: Endpoint | None) -> None:
        await resp.aclose()  # an unfinished answer: the connection closes and the worker stops generating
        if endpoint is not None:
            endpoint.outstanding -= 1
        self.ctx.endpoint = None

    async def _close_second(self, second: tuple[UpstreamResponse, Endpoint | None, str] | None) -> None:
        if second is None:
            return
        await second[0].aclose()
        if second[1] is not None:
            second[1].outstanding -= 1

    def _drop_second(self, model: str, body: bytes | None) -> None:
        """The second sample is paid for whatever the verdict: it is recorded as discarded."""
        usage = find_usage(body) if body else None
        prompt = usage.get("prompt_tokens") if usage else None
        completion = usage.get("completion_tokens") if usage else None
        p = prompt if isinstance(prompt, int) else None
        c = completion if isinstance(completion, int) else None
        cost = usage_cost(self.ctx.config, model, p, c)
        self.note.discarded.append(Discarded(model, "second_sample", p, c, cost))
