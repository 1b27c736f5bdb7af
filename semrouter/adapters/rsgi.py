"""RSGI adapter: runs the proxy on granian, the cheapest server measured here.

Granian parses HTTP in Rust and writes a whole response in one call, which saves a syscall and
most of the per-request Python of an ASGI server (see docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from semrouter import cpu
from semrouter.adapters.exchange import ClientDisconnected, RawHeaders, bad_body, too_large
from semrouter.adapters.http_proxy import ProxyHandler
from semrouter.errors import RouterError
from semrouter.router import Router

log = logging.getLogger("semrouter.proxy")


def _str_headers(headers: RawHeaders) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]


class RSGIExchange:
    __slots__ = ("_stream", "client", "headers", "method", "path", "proto")

    def __init__(self, scope: Any, proto: Any) -> None:
        self.method: str = scope.method
        self.path: str = scope.path
        self.headers: RawHeaders = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()]
        self.proto = proto
        self._stream: Any = None
        peer: str = getattr(scope, "client", "") or ""  # "ip:port", "[v6]:port": the IP decides tenant trust
        self.client: str | None = peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer or None

    async def read_body(self, limit: int) -> bytes:
        """Read the body chunk by chunk and stop at ``limit``: ``await proto()`` would buffer a chunked
        upload whole before its size could be checked (three 300 MB uploads took the process to 2 GB)."""
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise too_large(limit)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in self.proto:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
        except RouterError:
            raise
        except Exception as exc:  # granian's error: the client went away, or sent a body HTTP cannot frame
            if self._malformed(exc):
                raise bad_body() from None
            raise ClientDisconnected from exc
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    def _malformed(exc: Exception) -> bool:
        # granian raises RSGIProtocolError for both; hyper's message tells them apart: a client that went
        # away reads "connection closed before message completed", bad framing "invalid chunk size" etc.
        return "closed" not in str(exc).lower() and type(exc).__name__ != "RSGIProtocolClosed"

    async def respond(self, status: int, headers: RawHeaders, body: bytes) -> None:
        self.proto.response_bytes(status, _str_headers(headers), body)

    async def start_stream(self, status: int, headers: RawHeaders) -> None:
        self._stream = self.proto.response_stream(status, _str_headers(headers))

    async def send_chunk(self, data: bytes) -> None:
        try:
            await self._stream.send_bytes(data)
        except Exception as exc:  # RSGIProtocolClosed: the client went away mid-stream
            raise ClientDisconnected from exc

    async def end_stream(self) -> None:
        self._stream = None  # granian ends the response when its transport object is released

    async def wait_disconnect(self) -> None:
        await self.proto.client_disconnect()


def _log_startup_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("router start-up failed", exc_info=task.exception())


class RSGIProxyApp:
    """The proxy as an RSGI application (granian ``--interface rsgi``)."""

    def __init__(self, router: Router) -> None:
        self.handler = ProxyHandler(router)
        self.router = router

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto == "http":
            await self.handler.handle(RSGIExchange(scope, proto))

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # the loop starts right after this hook; keep the task so it is not garbage-collected mid-way
        self._startup = loop.create_task(self.handler.startup())
        self._startup.add_done_callback(_log_startup_failure)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop.is_running():
            loop.create_task(self.handler.shutdown())
        else:
            loop.run_until_complete(self.handler.shutdown())


def create_app() -> RSGIProxyApp:
    """App factory for granian: each worker process loads ``$SEMROUTER_CONFIG``."""
    from semrouter.server import configure_logging

    configure_logging()
    cpu.tune_process()
    return RSGIProxyApp(Router.from_file(os.environ["SEMROUTER_CONFIG"]))
