"""The standalone HTTP proxy: a raw ASGI app (no framework) in front of OpenAI-compatible workers.

A raw ASGI callable keeps the per-request overhead near the server's own (a framework router costs
several times more per request, see docs/benchmarks.md). Streaming answers are relayed chunk by
chunk; a client disconnect cancels the relay, which closes the upstream connection, which is how
vLLM learns to stop generating.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.errors import RouterError
from semrouter.router import Router, Runtime
from semrouter.upstream.client import UpstreamError, UpstreamResponse
from semrouter.upstream.forward import RESPONSE_DROP

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("semrouter.proxy")

API_PATHS = {
    "/v1/chat/completions": ApiKind.CHAT,
    "/v1/completions": ApiKind.COMPLETIONS,
    "/v1/embeddings": ApiKind.EMBEDDINGS,
}
_JSON = b"application/json"


class ClientDisconnected(Exception):
    pass


def _encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_json(send: Send, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
    raw = [(b"content-type", _JSON), (b"content-length", str(len(payload)).encode())]
    if headers:
        raw += _encode_headers(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def send_error(send: Send, err: RouterError, headers: dict[str, str] | None = None) -> None:
    await send_json(send, err.status, err.body(), {**(headers or {}), **err.headers})


class ProxyApp:
    """ASGI application; ``router`` holds the live config snapshot and the endpoint fleet."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.extra_routes: dict[tuple[str, str], Callable[[Scope, Receive, Send], Awaitable[None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.router.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.router.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        api = API_PATHS.get(path)
        try:
            if api is not None:
                if method != "POST":
                    raise RouterError(
                        405, f"Method {method} not allowed on {path}; use POST", code="method_not_allowed"
                    )
                await self._api(api, path, scope, receive, send)
            elif method == "GET" and path == "/v1/models":
                await send_json(send, 200, self._models())
            elif method == "GET" and path in ("/health", "/healthz"):
                await send_json(send, 200, b'{"status":"ok"}')
            elif method == "GET" and path in ("/ready", "/readyz"):
                await self._ready(send)
            elif method == "GET" and path == "/api/v1/status":
                await send_json(send, 200, orjson.dumps(self.router.status()))
            elif (method, path) in self.extra_routes:
                await self.extra_routes[(method, path)](scope, receive, send)
            else:
                raise RouterError(404, f"Unknown path {method} {path}", code="not_found")
        except RouterError as err:
            await send_error(send, err)

    # -- routes ----------------------------------------------------------------------------------

    def _models(self) -> bytes:
        cfg = self.router.runtime.config
        now = int(time.time())
        names = [(v, "semrouter") for v in cfg.routing.virtual_models]
        if cfg.routing.explicit_models == "allow":
            names += [(m.name, "semrouter-upstream") for m in cfg.models]
        data = [{"id": n, "object": "model", "created": now, "owned_by": owner} for n, owner in names]
        return orjson.dumps({"object": "list", "data": data})

    async def _ready(self, send: Send) -> None:
        pools = self.router.runtime.pools
        now = time.monotonic()
        live = {name: sum(e.available(now) for e in p.endpoints) for name, p in pools.items()}
        ok = any(live.values())
        await send_json(send, 200 if ok else 503, orjson.dumps({"ready": ok, "available_endpoints": live}))

    async def _read_body(self, scope: Scope, receive: Receive, limit: int) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise RouterError(413, f"Request body exceeds the {limit}-byte limit", code="request_too_large")
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RouterError(413, f"Request body exceeds the {limit}-byte limit", code="request_too_large")
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _api(self, api: ApiKind, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        runtime: Runtime = self.router.runtime  # one snapshot for the whole request
        cfg = runtime.config
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        ctype = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise RouterError(
                415,
                f"Unsupported content type '{ctype}'; send application/json",
                code="unsupported_media_type",
            )
        try:
            body = await self._read_body(scope, receive, cfg.server.max_body_bytes)
        except ClientDisconnected:
            return
        ctx = RequestContext(api, body, headers, cfg, headers.get(cfg.server.request_id_header))
        try:
            local = await runtime.pipeline.run_request(ctx)
        except RouterError as err:
            await send_error(send, err, ctx.routing_headers() if ctx.model else {"x-request-id": ctx.request_id})
            return
        if local is not None:
            await self._send_local(send, ctx, local)
            return
        await self._forward(runtime, ctx, path, raw_headers, receive, send)

    async def _send_local(self, send: Send, ctx: RequestContext, local: LocalResponse) -> None:
        headers = [(b"content-type", local.content_type.encode())]
        headers += _encode_headers({**ctx.routing_headers(), **local.headers})
        if local.chunks is None:
            headers.append((b"content-length", str(len(local.body)).encode()))
            await send({"type": "http.response.start", "status": local.status, "headers": headers})
            await send({"type": "http.response.body", "body": local.body})
            return
        await send({"type": "http.response.start", "status": local.status, "headers": headers})
        async for chunk in local.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _forward(
        self,
        runtime: Runtime,
        ctx: RequestContext,
        path: str,
        raw_headers: list[tuple[bytes, bytes]],
        receive: Receive,
        send: Send,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        disconnected = asyncio.Event()
        watcher = asyncio.create_task(self._watch_disconnect(receive, task, disconnected))
        resp: UpstreamResponse | None = None
        outcome = ResponseOutcome(status=0, completed=False)
        try:
            resp = await self.router.forwarder.send(ctx, runtime.pools, path, raw_headers)
            outcome.status = resp.status
            outcome.body, outcome.completed = await self._relay(ctx, resp, send, runtime.pipeline.wants_response_body)
        except RouterError as err:
            outcome.status, outcome.error = err.status, err.code
            await send_error(send, err, ctx.routing_headers())
        except asyncio.CancelledError:
            if not disconnected.is_set():
                raise  # server shutdown, not our client
            task.uncancel()
            outcome.error = "client_disconnected"
        finally:
            watcher.cancel()
            if resp is not None:
                await resp.aclose()  # unconsumed body → connection closed → worker stops generating
                self.router.forwarder.finish(ctx)
        await runtime.pipeline.run_response(ctx, outcome)

    @staticmethod
    async def _watch_disconnect(receive: Receive, task: asyncio.Task[Any], flag: asyncio.Event) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                flag.set()
                task.cancel()
                return

    async def _relay(
        self, ctx: RequestContext, resp: UpstreamResponse, send: Send, keep: bool
    ) -> tuple[bytes | None, bool]:
        headers = [(k, v) for k, v in resp.headers if k not in RESPONSE_DROP]
        headers += _encode_headers(ctx.routing_headers())
        streaming = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in resp.headers)
        if not streaming:
            try:
                body = await resp.read()
            except UpstreamError as exc:
                log.warning("upstream %s failed mid-body: %r", ctx.endpoint, exc)
                raise RouterError(
                    502,
                    "The upstream worker closed the connection mid-answer",
                    type="upstream_error",
                    code="upstream_error",
                ) from None
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return (body if keep else None), True
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        kept: list[bytes] = []
        completed = True
        try:
            async for chunk in resp.iter_chunks():
                if keep:
                    kept.append(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:  # headers are out: all we can do is end the stream
            log.warning("upstream %s stream broke: %r", ctx.endpoint, exc)
            if ctx.endpoint is not None:
                ctx.endpoint.record_failure(ctx.config.pool.ejection)
            completed = False
        await send({"type": "http.response.body", "body": b""})
        return (b"".join(kept) if keep else None), completed


def create_app() -> ProxyApp:
    """App factory for multi-process serving: each worker process loads ``$SEMROUTER_CONFIG``."""
    return ProxyApp(Router.from_file(os.environ["SEMROUTER_CONFIG"]))
