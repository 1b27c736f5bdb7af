"""An in-memory upstream for tests: :class:`MockTransport` answers each request as a handler says.

Give it to the client (``UpstreamClient(transport=MockTransport(handler))``) and everything above the
socket runs for real (request bytes, llhttp parsing, keep-alive reuse, timeouts, backpressure, the
forwarder's retries), with no port, process or network. ``handler(request)`` returns a :class:`MockReply`
(or an awaitable of one) per request; ``on_connect(host, port)`` may raise ``OSError`` to refuse a
connection or sleep past the client's connect timeout. Replies go out on later loop iterations, never
inside the client's ``write`` call, as they would from a real socket.

Not used in production: nothing outside the tests imports this module.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import httptools

__all__ = ["MockReply", "MockRequest", "MockTransport"]

End = Literal["complete", "reset", "stall", "close"]


@dataclass
class MockRequest:
    """One request as the upstream received it (header names lower-cased)."""

    method: str
    host: str
    port: int
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    connection: int  # which connection carried it (1, 2, ... in the order they were opened)
    tls: bool = False  # the client asked for TLS (an https:// URL)

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        key = name.lower().encode()
        return next((v.decode("latin-1") for n, v in self.headers if n == key), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class MockReply:
    """What the upstream sends back for one request.

    ``body`` goes out with a content-length; ``chunks`` (if given) with chunked framing, each chunk
    delivered on its own after ``chunk_delay`` seconds. ``delay`` is waited before the first byte.
    ``end`` says how the reply ends: ``complete`` (keep-alive unless ``connection: close`` is among the
    headers), ``close`` (the complete reply, then the server closes), ``reset`` (the connection dies right
    after the last chunk: a mid-stream failure), ``stall`` (nothing more is ever sent). ``raw`` replaces
    the whole reply with exact bytes (garbage, a truncated head); with ``raw=b""`` and ``end="reset"`` the
    server drops the connection without a byte.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    chunks: Sequence[bytes] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    end: End = "complete"
    raw: bytes | None = None

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> MockReply:
        return cls(status, (("content-type", "application/json"), *headers), json.dumps(obj).encode())

    @classmethod
    def drop(cls, delay: float = 0.0) -> MockReply:
        """Close the connection without sending a byte (the request was read, never answered)."""
        return cls(raw=b"", end="reset", delay=delay)

    def pieces(self) -> list[tuple[float, bytes | End]]:
        """What the server does, in order, each step with the delay before it: byte pieces to deliver,
        then possibly how the connection ends (``close``, ``reset`` or ``stall``)."""
        closes = any(k.lower() == "connection" and v.lower() == "close" for k, v in self.headers)
        end: End | None = self.end
        if end == "complete":  # keep-alive, unless the reply said it closes
            end = "close" if closes else None
        if self.raw is not None:
            out: list[tuple[float, bytes | End]] = [(self.delay, self.raw)] if self.raw else []
        else:
            try:
                reason = HTTPStatus(self.status).phrase
            except ValueError:
                reason = "Unknown"
            head = [f"HTTP/1.1 {self.status} {reason}"] + [f"{k}: {v}" for k, v in self.headers]
            if self.chunks is None:
                head.append(f"content-length: {len(self.body)}")
                out = [(self.delay, ("\r\n".join(head) + "\r\n\r\n").encode() + self.body)]
            else:
                head.append("transfer-encoding: chunked")
                out = [(self.delay, ("\r\n".join(head) + "\r\n\r\n").encode())]
                out += [(self.chunk_delay, b"%x\r\n%s\r\n" % (len(c), c)) for c in self.chunks if c]
                if self.end in ("complete", "close"):
                    out.append((0.0, b"0\r\n\r\n"))
        if end is not None:
            out.append((0.0 if out else self.delay, end))
        return out


Handler = Callable[[MockRequest], MockReply | Awaitable[MockReply]]
OnConnect = Callable[[str, int], Awaitable[None]]


@dataclass
class MockTransport:
    """In-memory connections to any ``host:port``, answered by ``handler``; records what it saw."""

    handler: Handler
    on_connect: OnConnect | None = None
    requests: list[MockRequest] = field(default_factory=list)
    connections: int = 0  # opened so far
    closed_by_client: int = 0  # connections the client closed (an abandoned stream, a cancelled request)
    pauses: int = 0  # times the client paused reading (its backpressure on a slow consumer)

    async def connect(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        host: str,
        port: int,
        *,
        ssl: Any,
        server_hostname: str | None,
    ) -> asyncio.Transport:
        if self.on_connect is not None:
            await self.on_connect(host, port)
        self.connections += 1
        protocol = protocol_factory()
        transport = _MemoryTransport(self, protocol, host, port, self.connections, ssl is not None)
        protocol.connection_made(transport)
        return transport


class _MemoryTransport(asyncio.Transport):
    """The client's end of one in-memory connection; the server's side is played by the mock."""

    def __init__(
        self, mock: MockTransport, protocol: asyncio.Protocol, host: str, port: int, number: int, tls: bool
    ) -> None:
        super().__init__()
        self._mock = mock
        self._protocol = protocol
        self._host, self._port, self._number, self._tls = host, port, number, tls
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._lost = False
        self._paused = False
        self._outbox: deque[tuple[float, bytes | End]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    # -- httptools request callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = MockRequest(
            method=self._parser.get_method().decode(),
            host=self._host,
            port=self._port,
            path=self._url.decode(),
            headers=self._headers,
            body=b"".join(self._body),
            connection=self._number,
            tls=self._tls,
        )
        self._mock.requests.append(request)
        task = self._loop.create_task(self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: MockRequest) -> None:
        try:
            reply = self._mock.handler(request)
            if inspect.isawaitable(reply):
                reply = await reply
        except Exception as exc:  # a broken handler must show in the test, not hang it
            reply = MockReply(500, body=f"mock handler raised {exc!r}".encode())
        assert isinstance(reply, MockReply)
        self._outbox.extend(reply.pieces())
        self._pump()

    # -- delivery --------------------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._timer is not None or self._paused or self._lost or not self._outbox:
            return
        delay, _ = self._outbox[0]
        self._timer = self._loop.call_later(delay, self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        if self._lost or not self._outbox:
            return
        _, item = self._outbox.popleft()
        if item == "stall":
            self._outbox.clear()
        elif item == "close":
            self._protocol.eof_received()
            self._lose(None)
        elif item == "reset":
            self._lose(ConnectionResetError("connection reset by the mock upstream"))
        elif isinstance(item, bytes):
            self._protocol.data_received(item)
            self._pump()

    def _lose(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = self._closing = True
        self._outbox.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._tasks:
            task.cancel()
        self._loop.call_soon(self._protocol.connection_lost, exc)

    # -- asyncio.Transport -----------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            raise RuntimeError("write on a closed mock connection")
        try:
            self._parser.feed_data(bytes(data))
        except httptools.HttpParserError as exc:  # the client wrote broken HTTP: a test failure
            raise AssertionError(f"client sent malformed HTTP: {exc}") from exc

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        if not self._closing:
            self._mock.closed_by_client += 1
        self._lose(None)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def pause_reading(self) -> None:
        if not self._paused:
            self._mock.pauses += 1
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        self._pump()

    def is_reading(self) -> bool:
        return not self._paused

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default  # no socket: the client skips TCP_NODELAY

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol
