"""The stage interface later issues build on: short-circuit, response headers, records, fail-open."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from semrouter import LocalResponse, RequestContext, RouterError, Stage
from semrouter.adapters.asgi import ProxyApp
from semrouter.config import parse_config
from semrouter.context import ApiKind, ResponseOutcome
from semrouter.pipeline import Pipeline
from semrouter.router import Router, Runtime
from semrouter.stages import build_pipeline

CONFIG = parse_config("""
models:
  - name: m1
    endpoints: [{url: "http://127.0.0.1:9"}]
decisions:
  - name: default
    category: other
    models: [{model: m1}]
""")


class Broken(Stage):
    name = "broken"
    optional = True

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        raise RuntimeError("classifier crashed")


class Blocker(Stage):
    name = "blocker"

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        ctx.response_headers["x-vsr-test"] = "blocked-here"
        if "forbidden" in ctx.text:
            return LocalResponse(403, b'{"error": {"message": "no", "type": "x", "param": null, "code": "blocked"}}')
        return None


class Required(Stage):
    name = "required"

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        raise RouterError(400, "rejected on purpose", code="custom")


class Observer(Stage):
    name = "observer"
    optional = True

    def __init__(self) -> None:
        self.seen: list[ResponseOutcome] = []

    async def on_response(self, ctx: RequestContext, outcome: ResponseOutcome) -> None:
        self.seen.append(outcome)


def context(text: str) -> RequestContext:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    return RequestContext(ApiKind.CHAT, orjson.dumps(body), {}, CONFIG)


async def test_order_records_and_fail_open():
    base = build_pipeline(CONFIG).stages
    pipe = Pipeline([base[0], Broken(), Blocker(), *base[1:]])
    ctx = context("hello")
    assert await pipe.run_request(ctx) is None
    assert [r.stage for r in ctx.records] == ["parse", "broken", "blocker", "decision", "selection", "enrich"]
    broken = ctx.records[1]
    assert broken.note == "skipped" and broken.fault == "RuntimeError: classifier crashed"
    assert ctx.faults == ["broken"] and pipe.fault_count == 1
    assert ctx.model == "m1" and ctx.decision is not None and ctx.decision.name == "default"
    assert ctx.routing_headers()["x-vsr-test"] == "blocked-here"


async def test_short_circuit_stops_later_stages():
    base = build_pipeline(CONFIG).stages
    pipe = Pipeline([base[0], Blocker(), *base[1:]])
    ctx = context("this is forbidden")
    local = await pipe.run_request(ctx)
    assert local is not None and local.status == 403
    assert ctx.local_stage == "blocker" and ctx.model is None
    assert [r.stage for r in ctx.records] == ["parse", "blocker"]


async def test_required_stage_errors_propagate():
    pipe = Pipeline([build_pipeline(CONFIG).stages[0], Required()])
    with pytest.raises(RouterError, match="rejected on purpose"):
        await pipe.run_request(context("x"))


async def test_passthrough_skips_routing_stages():
    ctx = RequestContext(ApiKind.CHAT, b'{"model": "m1", "messages": [{"role": "user", "content": "x"}]}', {}, CONFIG)
    await build_pipeline(CONFIG).run_request(ctx)
    assert [r.stage for r in ctx.records] == ["parse"] and not ctx.body_modified


async def asgi_call(app: ProxyApp, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    raw = orjson.dumps(body)
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"content-type", b"application/json")],
    }
    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


async def test_local_response_through_the_proxy_carries_stage_headers():
    router = Router(CONFIG)
    base = build_pipeline(CONFIG).stages
    observer = Observer()
    router.runtime = Runtime(CONFIG, Pipeline([base[0], Blocker(), *base[1:], observer]), router.runtime.pools)
    app = ProxyApp(router)
    status, headers, body = await asgi_call(
        app, {"model": "auto", "messages": [{"role": "user", "content": "forbidden"}]}
    )
    assert status == 403 and orjson.loads(body)["error"]["code"] == "blocked"
    assert headers["x-vsr-test"] == "blocked-here" and "x-request-id" in headers
    # no worker listens on port 9: a routed request ends as an OpenAI-style 503, and on_response sees it
    status, headers, body = await asgi_call(app, {"model": "auto", "messages": [{"role": "user", "content": "ok"}]})
    assert status == 503 and orjson.loads(body)["error"]["code"] == "no_healthy_endpoint"
    assert headers["x-vsr-selected-model"] == "m1" and headers["x-vsr-selected-category"] == "other"
    assert [(o.status, o.error, o.completed) for o in observer.seen] == [(503, "no_healthy_endpoint", False)]
    await router.client.aclose()
