"""OpenTelemetry: an OTLP/HTTP (JSON) receiver in the test gets the router's span tree, and the trace continues from
the client's ``traceparent`` through the router to the worker (one trace id; the worker's parent span is ours)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from servers import Server, free_port, http_json

MATH = "What is the integral of x^2 from 0 to 3?"
EMAIL, PHONE = "maria.gonzalez@corpmail.io", "+44 20 7946 0958"


class Receiver:
    """A minimal OTLP/HTTP collector (JSON encoding): keeps every span it is sent, checks the request shape."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (path, content-type)
        self.bodies: list[bytes] = []  # every export as it arrived
        self.lock = threading.Lock()

    def export(self, path: str, content_type: str, body: bytes) -> None:
        request = json.loads(body)
        with self.lock:
            self.requests.append((path, content_type))
            self.bodies.append(body)
            for rs in request["resourceSpans"]:
                attrs = {a["key"]: a["value"].get("stringValue") for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        self.spans.append(span)
                        self.resources.append(attrs)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]


@pytest.fixture
def otlp() -> Iterator[tuple[Receiver, int]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            receiver.export(self.path, self.headers["content-type"], body)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield receiver, server.server_address[1]
    server.shutdown()


def config(worker: str, otlp_port: int, ratio: float = 1.0) -> dict[str, Any]:
    return {
        "models": [{"name": "m", "family": "qwen3", "endpoints": [{"url": worker}]}],
        "routing": {"default_decision": "general"},
        "signals": [
            {"name": "domain", "type": "domain"},
            {"name": "urgent", "type": "keyword", "keywords": ["urgent"]},
        ],
        "decisions": [
            {"name": "math", "rules": {"signal": "domain", "equals": "math"}, "models": [{"model": "m"}]},
            {"name": "general", "models": [{"model": "m"}]},
        ],
        "observability": {
            "tracing": {
                "enabled": True,
                "endpoint": f"http://127.0.0.1:{otlp_port}",
                "sampling_ratio": ratio,
                "service_name": "semrouter-test",
            }
        },
    }


def wait_spans(receiver: Receiver, trace_id: str, name: str, timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = receiver.trace(trace_id)
        if any(s["name"] == name for s in spans):
            time.sleep(0.3)  # the batch that carries the root may be followed by late children: none expected
            return receiver.trace(trace_id)
        time.sleep(0.1)
    raise TimeoutError(f"no span {name!r} received; got {[s['name'] for s in receiver.spans]}")


def attrs_of(span: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a["value"] for a in span.get("attributes", [])}


def test_span_tree_and_traceparent_reach_the_worker(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], otlp: tuple[Receiver, int]
) -> None:
    receiver, port = otlp
    worker = start_worker("w")
    router = start_router(config(worker.url, port), env={"OTEL_BSP_SCHEDULE_DELAY": "100"})
    trace_id, client_span = os.urandom(16).hex(), os.urandom(8).hex()
    traceparent = f"00-{trace_id}-{client_span}-01"
    body = {"model": "auto", "messages": [{"role": "user", "content": MATH}]}
    status, headers, _ = http_json(
        "POST", router.url + "/v1/chat/completions", body, headers={"traceparent": traceparent}
    )
    assert status == 200 and headers["x-vsr-selected-decision"] == "math"

    spans = wait_spans(receiver, trace_id, "POST /v1/chat/completions")
    assert {r for r in receiver.requests} == {("/v1/traces", "application/json")}
    by_name = {s["name"]: s for s in spans}
    root = by_name["POST /v1/chat/completions"]
    assert root["parentSpanId"] == client_span  # continues the client's trace
    assert root["kind"] == 2  # SPAN_KIND_SERVER
    attrs = attrs_of(root)
    assert attrs["semrouter.decision"] == {"stringValue": "math"}
    assert attrs["semrouter.model"] == {"stringValue": "m"}
    assert attrs["semrouter.category"] == {"stringValue": "math"}
    assert attrs["semrouter.cache"] == {"stringValue": "off"}
    assert attrs["http.response.status_code"] == {"intValue": "200"}  # proto3 JSON: int64 as a string
    for name in (
        "stage.parse",
        "stage.signals",
        "stage.decision",
        "stage.selection",
        "stage.enrich",
        "embedding",
        "upstream",
    ):
        assert by_name[name]["parentSpanId"] == root["spanId"], name
    assert by_name["upstream"]["kind"] == 3  # SPAN_KIND_CLIENT
    for name in ("signal.domain", "signal.urgent"):
        assert by_name[name]["parentSpanId"] == by_name["stage.signals"]["spanId"], name
    assert attrs_of(by_name["signal.urgent"])["semrouter.signal.matched"] == {"boolValue": False}
    start, end = int(root["startTimeUnixNano"]), int(root["endTimeUnixNano"])
    for s in spans:  # children lie within the request
        assert start <= int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) <= end, s["name"]
    assert receiver.resources[0]["service.name"] == "semrouter-test"
    # no prompt text in any attribute
    assert all(MATH not in json.dumps(s.get("attributes", [])) for s in spans)

    # the worker got our upstream span as its parent, in the same trace
    received = worker.requests()[-1]["echo"]["traceparent"]
    _, tid, parent, flags = received.split("-")
    assert tid == trace_id and int(flags, 16) & 1  # same trace, sampled
    assert parent == by_name["upstream"]["spanId"]


def test_sampling_ratio_zero_exports_nothing_but_still_propagates(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], otlp: tuple[Receiver, int]
) -> None:
    receiver, port = otlp
    worker = start_worker("w")
    router = start_router(config(worker.url, port, ratio=0.0), env={"OTEL_BSP_SCHEDULE_DELAY": "100"})
    body = {"model": "auto", "messages": [{"role": "user", "content": MATH}]}
    for _ in range(3):
        assert http_json("POST", router.url + "/v1/chat/completions", body)[0] == 200
    # a client's sampled trace is honoured whatever the ratio (parent-based sampling)
    trace_id = os.urandom(16).hex()
    tp = f"00-{trace_id}-{os.urandom(8).hex()}-01"
    assert http_json("POST", router.url + "/v1/chat/completions", body, headers={"traceparent": tp})[0] == 200
    spans = wait_spans(receiver, trace_id, "POST /v1/chat/completions")
    assert {s["traceId"] for s in receiver.spans} == {trace_id}  # the three unsampled requests sent nothing
    assert any(s["name"] == "upstream" for s in spans)
    unsampled = [r["echo"]["traceparent"] for r in worker.requests()[:3]]
    # ids still flow to the worker, with the sampled bit clear (bit 1, "random trace id", may be set)
    assert all(tp is not None and int(tp.split("-")[3], 16) & 1 == 0 for tp in unsampled)


def test_pii_masked_prompt_leaves_no_trace_in_spans(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], otlp: tuple[Receiver, int]
) -> None:
    """PII guard in mask mode with tracing on: the prompt's e-mail address and phone number (and the answer
    they are restored into) appear in no span name, attribute or event, nor anywhere in what was exported."""
    receiver, port = otlp
    worker = start_worker("w")
    cfg = config(worker.url, port)
    cfg["guards"] = {"pii": {"enabled": True, "action": "mask", "restore": True, "ner": False}}
    router = start_router(cfg, env={"OTEL_BSP_SCHEDULE_DELAY": "100"})
    trace_id = os.urandom(16).hex()
    prompt = f"Please email {EMAIL} or call {PHONE} about the invoice before Friday."
    body = {"model": "auto", "messages": [{"role": "user", "content": prompt}]}
    status, headers, answer = http_json(
        "POST",
        router.url + "/v1/chat/completions",
        body,
        headers={
            "traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01",
            "x-fake-reply": "I will write to <EMAIL_ADDRESS> and ring <PHONE_NUMBER>.",
        },
    )
    assert status == 200 and headers["x-vsr-pii-action"] == "mask"
    assert answer["choices"][0]["message"]["content"] == f"I will write to {EMAIL} and ring {PHONE}."  # restored
    sent = json.dumps(worker.requests()[-1]["body"])
    assert "<EMAIL_ADDRESS>" in sent and "<PHONE_NUMBER>" in sent and EMAIL not in sent  # the guard did mask

    spans = wait_spans(receiver, trace_id, "POST /v1/chat/completions")
    names = {s["name"] for s in spans}
    assert {"stage.guard", "upstream", "stage.signals"} <= names, names
    upstream = next(s for s in spans if s["name"] == "upstream")
    assert [e["name"] for e in upstream.get("events", [])] == ["first_byte"]  # events are checked too
    with receiver.lock:
        exported = b"".join(receiver.bodies).decode()
    # ids and clock readings are random digits and hex: "7946" turns up in a nanosecond timestamp about one
    # run in twenty, so they are blanked before the search (they cannot carry the prompt anyway)
    exported = re.sub(r'"(traceId|spanId|parentSpanId|\w+UnixNano)":\s*"?[0-9a-fA-F]*"?', "", exported)
    fragments = (EMAIL, PHONE, "maria.gonzalez", "corpmail", "7946", "0958", "invoice before Friday")
    for span in spans:
        text = json.dumps([span["name"], span.get("attributes", []), span.get("events", []), span.get("status")])
        assert not any(f in text for f in fragments), span["name"]
    assert not any(f in exported for f in fragments)
