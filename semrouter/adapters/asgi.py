"""ASGI adapter: runs the proxy on any ASGI server (uvicorn here); also the easiest way to embed it."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from semrouter import cpu
from semrouter.adapters.exchange import ClientDisconnected, RawHeaders, too_large
from semrouter.adapters.http_proxy import ProxyHandler
from semrouter.router import Router

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ASGIExchange:
    __slots__ = ("client", "headers", "method", "path", "receive", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: RawHeaders = scope["headers"]
        peer = scope.get("client")
        self.client: str | None = str(peer[0]) if peer else None  # the peer's IP (trusted tenant headers)
        self.receive = receive
        self.send = send

    async def read_body(self, limit: int) -> bytes:
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await self.receive()
            if msg["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def respond(self, status: int, headers: RawHeaders, body: bytes) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def start_stream(self, status: int, headers: RawHeaders) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def send_chunk(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end_stream(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})

    async def wait_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass


class ProxyApp:
    """The proxy as an ASGI application."""

    def __init__(self, router: Router) -> None:
        self.handler = ProxyHandler(router)
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handler.handle(ASGIExchange(scope, receive, send))
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.handler.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.handler.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> ProxyApp:
    """App factory for multi-process serving: each worker process loads ``$SEMROUTER_CONFIG``."""
    from semrouter.server import configure_logging

    configure_logging()
    cpu.tune_process()
    return ProxyApp(Router.from_file(os.environ["SEMROUTER_CONFIG"]))
