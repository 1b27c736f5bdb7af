"""OpenTelemetry traces: one span per request, a child per stage, signal and the upstream call.

Stage spans are made after the fact from ``ctx.records`` (each has its start and duration), with explicit
timestamps, instead of being opened and closed around every stage: the pipeline stays free of tracing code
and an unsampled request costs one sampling decision. Only two spans are live: the request span (opened
lazily with the request's start time) and the upstream span, which must exist before the worker is called
because the ``traceparent`` sent to the worker names it as the parent. Thus a client's trace continues
through the router to the worker: gateway → router → worker in one trace.

Attributes carry routing facts (decision, model, category, cache result, status) and never prompt text,
PII values or signal details.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from semrouter.observe.config import TracingConfig
from semrouter.observe.otlp import OtlpJsonSpanExporter

if TYPE_CHECKING:
    from semrouter.context import RequestContext

_PROPAGATOR = TraceContextTextMapPropagator()


class _Clock:
    """perf_counter seconds → epoch nanoseconds, anchored once per request at its end (one clock pair)."""

    __slots__ = ("ns", "pc")

    def __init__(self) -> None:
        self.ns = time.time_ns()
        self.pc = time.perf_counter()

    def __call__(self, t: float) -> int:
        return self.ns - int((self.pc - t) * 1e9)


class Tracing:
    def __init__(self, cfg: TracingConfig) -> None:
        self.cfg = cfg
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": cfg.service_name}),
            sampler=ParentBased(TraceIdRatioBased(cfg.sampling_ratio)),
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(OtlpJsonSpanExporter(cfg.endpoint, cfg.headers, cfg.timeout_s))
        )
        self.tracer = self.provider.get_tracer("semrouter")

    def _root(self, ctx: RequestContext, clock: _Clock | None = None) -> Span:
        span: Span | None = ctx.trace.span
        if span is None:
            clock = clock or _Clock()
            parent: Context = _PROPAGATOR.extract(ctx.headers)  # the client's traceparent, if it sent one
            span = self.tracer.start_span(
                f"POST /v1/{ctx.api.value}", context=parent, kind=SpanKind.SERVER, start_time=clock(ctx.started)
            )
            ctx.trace.span = span
        return span

    def begin_upstream(self, ctx: RequestContext) -> None:
        """Open the upstream span and note the ``traceparent`` the worker must receive (``ctx.trace``)."""
        root = self._root(ctx)
        up = self.tracer.start_span("upstream", context=set_span_in_context(root), kind=SpanKind.CLIENT)
        ctx.trace.upstream_span = up
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=set_span_in_context(up))
        ctx.trace.traceparent = carrier.get("traceparent")
        if "tracestate" in carrier:
            ctx.trace.tracestate = carrier["tracestate"]

    def finish(self, ctx: RequestContext, attrs: dict[str, Any], error: str | None, first_byte: float | None) -> None:
        clock = _Clock()
        root = self._root(ctx, clock)
        end = clock(time.perf_counter())
        up: Span | None = ctx.trace.upstream_span
        if root.is_recording():
            parent = set_span_in_context(root)
            spans: dict[str, Span] = {}
            for rec in ctx.records:  # stages first: signals hang below the "signals" stage
                if rec.start and not rec.stage.startswith("signal."):
                    span = self.tracer.start_span(f"stage.{rec.stage}", context=parent, start_time=clock(rec.start))
                    if rec.fault:
                        span.set_status(Status(StatusCode.ERROR, rec.note))
                    span.end(clock(rec.start + rec.ms / 1e3))
                    spans[rec.stage] = span
            sig_parent = set_span_in_context(spans["signals"]) if "signals" in spans else parent
            for rec in ctx.records:
                if rec.start and rec.stage.startswith("signal."):
                    name = rec.stage.removeprefix("signal.")
                    span = self.tracer.start_span(
                        rec.stage,
                        context=sig_parent,
                        start_time=clock(rec.start),
                        attributes={"semrouter.signal": name},
                    )
                    result = ctx.signals.get(name)
                    if result is not None:
                        span.set_attribute("semrouter.signal.matched", result.matched)
                    elif rec.stage in ctx.faults:  # the signal raised and was left out (fail-open)
                        span.set_status(Status(StatusCode.ERROR, "signal failed"))
                    span.end(clock(rec.start + rec.ms / 1e3))
            marks = ctx.timings
            if marks.embed_start is not None and marks.embed_end is not None:
                span = self.tracer.start_span("embedding", context=parent, start_time=clock(marks.embed_start))
                span.end(clock(marks.embed_end))
            root.set_attributes(attrs)
            if error is not None:
                root.set_status(Status(StatusCode.ERROR, error))
        if up is not None:
            if up.is_recording():
                if first_byte is not None:
                    up.add_event("first_byte", timestamp=clock(first_byte))
                up.set_attribute("semrouter.model", ctx.model or "none")
                if ctx.endpoint is not None:
                    up.set_attribute("server.address", ctx.endpoint.url)
                if attrs.get("http.response.status_code"):
                    up.set_attribute("http.response.status_code", attrs["http.response.status_code"])
            up.end(end)
        root.end(end)

    def close(self) -> None:
        self.provider.shutdown()  # flushes the spans still queued
