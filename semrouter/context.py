"""The request context: everything one request carries through the pipeline.

Both adapters (HTTP proxy, Envoy ext_proc) build one of these, run the same stages over it and turn
the result back into their transport. Stages communicate only through it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from semrouter.config.schema import DecisionConfig, RouterConfig
    from semrouter.embed.model import FloatArray
    from semrouter.lang import Language
    from semrouter.pool.endpoint import Endpoint
    from semrouter.signals.base import SignalResult


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
        "tools_selected",
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
        # What observability notes along the way (perf_counter marks, usage, trace context): semrouter.observe.
        self.obs: dict[str, Any] = {}
        self._text: str | None = None

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
            self.obs["embed_start"] = time.perf_counter()  # its own record, since it overlaps the stages
            self._embedding.add_done_callback(lambda _: self.obs.__setitem__("embed_end", time.perf_counter()))
        return await asyncio.shield(self._embedding)

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
