"""An OTLP/HTTP span exporter with the JSON encoding (``POST {endpoint}/v1/traces``, ``application/json``).

Why not the official ``opentelemetry-exporter-otlp-proto-*`` packages: they need ``opentelemetry-proto``'s
generated modules, and ``xds-protos`` (which the ext_proc service needs) ships an older copy of the same
``opentelemetry/proto`` files. Whichever wheel pip installs last wins, and with ``pip install semrouter`` it
is ``xds-protos``: the official exporter then fails to import. The JSON encoding of OTLP is part of the
OTLP/HTTP specification and is accepted by the OpenTelemetry Collector, Jaeger and Tempo on port 4318, so
encoding it here (the proto3 JSON mapping of ``ExportTraceServiceRequest``, a few dozen lines) removes the
clash instead of working around it.

The exporter runs on the SDK's ``BatchSpanProcessor`` thread, never on the event loop, so the stdlib's
blocking ``urllib`` is the right client: one POST per batch, retried with back-off on the statuses the
specification calls retryable.
"""

from __future__ import annotations

import base64
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("semrouter.tracing")

RETRYABLE = frozenset({429, 502, 503, 504})


def traces_url(endpoint: str) -> str:
    """A base address (``http://collector:4318``) gets the signal path; a full one is used as given."""
    return endpoint.rstrip("/") + "/v1/traces" if urlsplit(endpoint).path in ("", "/") else endpoint


def any_value(value: Any) -> dict[str, Any]:
    """Proto3 JSON of an ``AnyValue`` (int64 as a string, bytes as base64, as the mapping requires)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (attrs or {}).items()]


def encode_span(span: ReadableSpan) -> dict[str, Any]:
    sc = span.get_span_context()
    assert sc is not None
    out: dict[str, Any] = {
        "traceId": f"{sc.trace_id:032x}",  # OTLP JSON: ids are hex, not base64
        "spanId": f"{sc.span_id:016x}",
        "name": span.name,
        "kind": span.kind.value + 1,  # the API's INTERNAL=0.. is OTLP's SPAN_KIND_INTERNAL=1..
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "attributes": attributes(span.attributes),
        "status": {"code": span.status.status_code.value},  # UNSET/OK/ERROR = 0/1/2 in both
    }
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    if sc.trace_state:
        out["traceState"] = sc.trace_state.to_header()
    if span.status.description:
        out["status"]["message"] = span.status.description
    if span.events:
        out["events"] = [
            {"timeUnixNano": str(e.timestamp), "name": e.name, "attributes": attributes(e.attributes)}
            for e in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "attributes": attributes(link.attributes),
            }
            for link in span.links
        ]
    return out


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """``ExportTraceServiceRequest`` as JSON: spans grouped by resource, then by instrumentation scope."""
    groups: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = groups.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope is not None else ("", "")
        scopes.setdefault(key, []).append(encode_span(span))
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes(resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
            for resource, scopes in groups.values()
        ]
    }
    return orjson.dumps(request)


class OtlpJsonSpanExporter(SpanExporter):
    def __init__(self, endpoint: str, headers: Mapping[str, str] | None = None, timeout_s: float = 10.0) -> None:
        self.url = traces_url(endpoint)
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.timeout_s = timeout_s
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._closed:
            return SpanExportResult.FAILURE
        body = encode(spans)
        deadline = time.monotonic() + self.timeout_s
        delay = 0.25
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return SpanExportResult.FAILURE
            request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=left) as resp:
                    resp.read()
                return SpanExportResult.SUCCESS
            except urllib.error.HTTPError as err:
                if err.code not in RETRYABLE:
                    log.warning("OTLP collector refused %d spans: HTTP %d", len(spans), err.code)
                    return SpanExportResult.FAILURE
                reason = f"HTTP {err.code}"
            except OSError as err:  # connection refused, reset, timeout
                reason = type(err).__name__
            if time.monotonic() + delay >= deadline or self._closed:
                log.warning("OTLP export of %d spans failed: %s", len(spans), reason)
                return SpanExportResult.FAILURE
            time.sleep(delay)
            delay *= 2

    def shutdown(self) -> None:
        self._closed = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing is buffered here; the batch processor holds the queue
