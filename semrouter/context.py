"""The request context: everything one request carries through the pipeline.

Both adapters (HTTP proxy, Envoy ext_proc) build one of these, run the same stages over it and turn
the result back into their transport. Stages communicate only through it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson

if TYPE_CHECKING:
    from semrouter.config.schema import DecisionConfig, RouterConfig
    from semrouter.embed.model import FloatArray
    from semrouter.lang import Language
    from semrouter.observe.usage import UsageSniffer
    from semrouter.pool.endpoint import Endpoint
    from semrouter.signals.result import SignalResult
    from semrouter.tenancy import TenantAccess
    from semrouter.upstream.cascade import CascadeNote

_T = TypeVar("_T")


class ApiKind(StrEnum):
    """Which OpenAI API a request is for."""

    CHAT = "chat/completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"


class BodyFilter(Protocol):
    """A rewrite of the answer body on its way to the client, fed in pieces as they arrive.

    Adapters feed every chunk (a whole JSON body, or SSE bytes split anywhere) and send what comes back;
    ``finish`` returns whatever was held back. Filters see the answer after the cache kept its copy.
    """

    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class ClientApi(Protocol):
    """A client API the router translates to chat completions (``/v1/responses``, ``/v1/messages``):
    the parse stage asks it for the chat body (see :mod:`semrouter.adapters.translate`)."""

    def to_chat(self, ctx: RequestContext) -> dict[str, Any]: ...

    def native_request(self, ctx: RequestContext, model: str, served: str) -> tuple[str, bytes] | None:
        """(path, body) when ``model``'s workers take this API natively (``api: responses``) and this
        request may go that way; None: chat completions, as translated."""
        ...


@dataclass(slots=True)
class StageRecord:
    """What one stage did: shown in headers, logs, metrics and the dashboard."""

    stage: str
    ms: float
    note: str = ""
    fault: str | None = None
    start: float = 0.0  # time.perf_counter() when it began (0: unknown), so traces can place it exactly


@dataclass(slots=True)
class LocalResponse:
    """A response produced by the router itself (block, cache hit, error) instead of a worker."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    chunks: AsyncIterator[bytes] | None = None  # set for a streamed local answer (e.g. SSE replay)


@dataclass(slots=True)
class ResponseOutcome:
    """How the upstream exchange ended, handed to stages' ``on_response``."""

    status: int
    completed: bool  # the whole answer reached the client (streams: [DONE] seen, no disconnect)
    body: bytes | None = None  # whole JSON body, or the raw SSE bytes for streams, when kept
    error: str | None = None


class Timings:
    """``time.perf_counter()`` marks of what runs beside the stages (each stage times itself in
    :attr:`RequestContext.records`): the metrics, the decision log and the trace turn them into the
    embedding's duration and the time to first token. ``None``: it did not happen.

    Like :class:`TraceContext` and :class:`UpstreamNotes`, a plain class whose defaults live on the class:
    every request makes one of each, and an object without ``__init__`` costs a third of a dataclass."""

    embed_start: float | None = None  # the request text's embedding began (it overlaps the signals)
    embed_end: float | None = None
    upstream_start: float | None = None  # the worker is about to be called
    upstream_headers: float | None = None  # its status line and headers arrived

    def embedding_s(self) -> float | None:
        """How long the embedding took, once it is done."""
        if self.embed_start is None or self.embed_end is None:
            return None
        return self.embed_end - self.embed_start


class TraceContext:
    """The request's tracing state (set only while tracing is on): its spans, and the W3C trace context
    the worker receives so that its spans hang below ours (the forwarder or Envoy sends them)."""

    span: Any = None  # the request's root span (an OpenTelemetry Span), opened on first use
    upstream_span: Any = None  # the span of the call to the worker
    traceparent: str | None = None
    tracestate: str | None = None


class UpstreamNotes:
    """What the upstream exchange left for the observer: the answer's token usage (a sniffer over a
    stream, or the whole JSON body, read without a copy) and how many retries it took."""

    sniffer: UsageSniffer | None = None
    body: bytes | None = None
    retries: int = 0
    cascade: CascadeNote | None = None  # what a cascade did (semrouter.upstream.cascade), when one ran
    native: bool = False  # the answer came from a worker's own /v1/responses (relayed, not translated)


class RequestContext:
    """One request's state. Cheap to create: everything optional is filled lazily by stages."""

    __slots__ = (
        "_embedding",
        "_language",
        "_text",
        "api",
        "body",
        "body_modified",
        "cache_bypass",
        "category",
        "client_reasoning",
        "config",
        "decision",
        "decision_confidence",
        "dialect",
        "endpoint",
        "faults",
        "headers",
        "local_stage",
        "model",
        "obs",
        "pii_findings",
        "pii_types",
        "raw_body",
        "reasoning",
        "reasoning_effort",
        "records",
        "request_id",
        "requested_model",
        "response_filters",
        "response_headers",
        "routed",
        "selection_scores",
        "signals",
        "stage_state",
        "started",
        "stream",
        "system_prompt_injected",
        "tenancy",
        "tenant",
        "timings",
        "tools_selected",
        "trace",
        "upstream",
    )

    def __init__(
        self,
        api: ApiKind,
        raw_body: bytes,
        headers: dict[str, str],
        config: RouterConfig,
        request_id: str | None = None,
    ) -> None:
        self.api = api
        self.raw_body = raw_body
        self.headers = headers  # lower-cased names
        self.config = config
        self.request_id = request_id or os.urandom(16).hex()  # uuid4's randomness without the UUID object
        self.started = time.perf_counter()
        self.body: dict[str, Any] = {}
        self.body_modified = False
        # The client API translated to chat for this request (Responses, Messages), None for chat itself.
        self.dialect: ClientApi | None = None
        self.stream = False
        self.requested_model = ""
        self.routed = False  # True when a virtual model name asked for routing
        self.model: str | None = None
        self.decision: DecisionConfig | None = None
        self.decision_confidence = 0.0
        self.signals: dict[str, SignalResult] = {}
        self.selection_scores: dict[str, float] = {}
        self.tools_selected: list[str] | None = None
        self._embedding: asyncio.Future[FloatArray] | None = None
        self._language: Language | None = None
        self.category: str | None = None
        self.reasoning: bool | None = None
        self.reasoning_effort: str | None = None
        self.client_reasoning = False
        self.system_prompt_injected = False
        self.endpoint: Endpoint | None = None
        self.response_headers: dict[str, str] = {}
        self.records: list[StageRecord] = []
        self.faults: list[str] = []
        self.local_stage: str | None = None
        # Why this request must neither be answered from nor stored in the cache (e.g. "pii"), if so.
        self.cache_bypass: str | None = None
        self.pii_types: list[str] = []  # PII entity types found in the request (never the values)
        # Where the PII is (the texts it is in, as (container, key), and the spans per text): guard stages only.
        self.pii_findings: tuple[list[tuple[dict[str, Any], str]], list[list[Any]]] | None = None
        # Rewrites of the answer on its way to the client (e.g. putting masked PII back), in order.
        self.response_filters: list[BodyFilter] = []
        # What a stage keeps between its on_request and on_response for this request, under its name.
        self.stage_state: dict[str, Any] = {}
        # What observability reads, typed: timings, the trace context, what the upstream exchange left.
        self.timings = Timings()
        self.trace = TraceContext()
        self.upstream = UpstreamNotes()
        # What a stage notes for the decision log record, by field name (the cache's similarity and verifier
        # score for a candidate, and what refused it): see semrouter.observe.decision_log. Only these: the
        # state observability shares is typed above.
        self.obs: dict[str, float | str] = {}
        self._text: str | None = None
        # Who the request is for: the cache partition and the decision log's tenant. Without a tenancy
        # section, what the tenant header says (anyone may set it, as before); with one, the intake sets
        # it from the API key (or a trusted client's header): see semrouter.tenancy.
        self.tenant: str | None = headers.get(config.cache.tenant_header.lower()) if config.tenancy is None else None
        self.tenancy: TenantAccess | None = None  # set by the intake only (never for a dry run)

    @property
    def text(self) -> str:
        """The text signals analyse: the last user message (text parts joined)."""
        if self._text is None:
            self._text = last_user_text(self.body)
        return self._text

    async def embedding(self) -> FloatArray:
        """The request text's embedding: computed on first use, then shared by every consumer.

        Concurrent first calls (signals evaluated together) share one computation.
        """
        if self._embedding is None:
            from semrouter.embed.service import EmbeddingService

            self._embedding = asyncio.ensure_future(EmbeddingService.default().embed(self.text))
            self.timings.embed_start = time.perf_counter()  # its own record, since it overlaps the stages
            self._embedding.add_done_callback(self._embedded)
        return await asyncio.shield(self._embedding)

    def _embedded(self, _: object) -> None:
        self.timings.embed_end = time.perf_counter()

    async def once(self, key: str, compute: Callable[[], Awaitable[_T]]) -> _T:
        """``compute()`` for the first stage that asks for ``key`` in this request; concurrent and later callers
        share its result (a second look both guards use runs once). ``compute`` handles its own faults: an
        exception reaches every caller."""
        fut: asyncio.Future[_T] | None = self.stage_state.get(key)
        if fut is None:
            fut = asyncio.ensure_future(compute())
            # retrieved here, so one that fails after every caller was cancelled is not logged as never retrieved
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
            self.stage_state[key] = fut
        return await asyncio.shield(fut)

    async def language(self) -> Language:
        """The request text's language (:mod:`semrouter.lang`): computed on first use, then shared.

        The detector reads at most ``lang.MAX_CHARS`` characters (~0.1-0.7 ms), so it runs inline; only
        the first call of a process that skipped the start-up warm-up loads the model, in a thread.
        """
        if self._language is None:
            from semrouter import lang

            if lang.LanguageDetector._shared is None:
                await asyncio.to_thread(lang.LanguageDetector.shared)
            self._language = lang.detect(self.text)
        return self._language

    def encoded_body(self) -> bytes:
        """The body to forward: the client's bytes untouched unless a stage changed the request."""
        if self.body_modified:
            return orjson.dumps(self.body)
        return self.raw_body

    def routing_headers(self) -> dict[str, str]:
        """The ``x-vsr-*`` headers describing what routing did."""
        h = {self.config.server.request_id_header: self.request_id}
        if self.model is not None:
            h["x-vsr-selected-model"] = self.model
        if self.decision is not None:
            h["x-vsr-selected-decision"] = self.decision.name
        h["x-vsr-selected-category"] = self.category or "none"
        h["x-vsr-selected-reasoning"] = "on" if self.reasoning else "off"
        h["x-vsr-injected-system-prompt"] = "true" if self.system_prompt_injected else "false"
        if self.endpoint is not None:
            h["x-vsr-destination-endpoint"] = self.endpoint.url
        if self.tools_selected is not None:
            h["x-vsr-tools-selected"] = ",".join(self.tools_selected)
        h.update(self.response_headers)
        return h


def content_text(content: Any) -> str:
    """Text of an OpenAI message ``content``: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        for msg in reversed(messages):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return content_text(msg.get("content"))
        return ""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        return str(prompt[-1])
    return ""


def prompt_text(body: dict[str, Any]) -> str:
    """The whole prompt in order (all messages), for prefix-affinity hashing."""
    messages = body.get("messages")
    if isinstance(messages, list):
        return "\n".join(f"{m.get('role')}:{content_text(m.get('content'))}" for m in messages if isinstance(m, dict))
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""
