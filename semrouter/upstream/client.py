"""A small keep-alive HTTP/1.1 client for talking to upstream inference workers.

Why not aiohttp/httpx: the proxy's passthrough cost is dominated by the upstream client. Measured on a
2-core box, ``aiohttp.ClientSession`` costs ~315 µs CPU per proxied request and ``httpx.AsyncClient``
collapses under concurrency, while the whole Rust ``vllm-router`` costs ~150 µs. This client does only
what a reverse proxy needs: one ``asyncio.Protocol`` per connection (so uvloop's C transports do the
socket work), ``httptools`` (llhttp) for response parsing, a LIFO idle pool per host, and timers instead of
``wait_for`` tasks. Bodies are handed over exactly as they arrive (SSE is never buffered whole), with
read-side backpressure so a slow client cannot make the proxy buffer an unbounded upstream response.

Scope and deliberate limits:

* ``http://`` and ``https://`` (stdlib TLS with the default, verifying context; no HTTP/2, no proxies).
* One request in flight per connection (no pipelining); a connection goes back to the pool as soon as
  its response has been parsed to the end, even if the caller has not consumed the buffered body yet.
* A pooled connection that turns out to be dead (closed before any response byte) is retried once on a
  fresh connection; see :meth:`UpstreamClient.request` for the exact rule.
* Callers must ``aclose()`` every response whose body they did not consume to the end; that is also how a
  client disconnect cancels the upstream generation (the upstream connection is closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Final, cast

import httptools

from semrouter.upstream.transport import SocketTransport, UpstreamTransport

__all__ = ["UpstreamClient", "UpstreamConnectError", "UpstreamError", "UpstreamResponse", "UpstreamTimeout"]


class UpstreamError(Exception):
    """Any failure talking to an upstream; the response may have been partly delivered."""


class UpstreamConnectError(UpstreamError):
    """No connection, or it died before any response byte: the request was not answered, safe to retry."""


class UpstreamTimeout(UpstreamError):
    """No response headers within ``timeout``, or no body bytes for ``idle_timeout`` seconds."""


# A reused connection closed this soon after the request was written was closed by the server while
# idle (the keep-alive race): the request was never processed and is safe to send again. Later than
# this, the server may have started working on it, and a POST must not run twice.
STALE_WINDOW_S = 0.05


class _StaleConnection(Exception):
    """Internal: a reused keep-alive connection was found closed before any response byte."""


# Request headers the client owns: framing and hop-by-hop headers must never be copied from the caller
# (a duplicate content-length or a forwarded transfer-encoding would desynchronise the connection).
_OWN_HEADERS: Final = frozenset(
    {
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
_HIGH_WATER: Final = 256 * 1024  # pause reading the upstream socket past this many undelivered bytes
_LOW_WATER: Final = 64 * 1024
_URL_CACHE_MAX: Final = 1024
_BAD_CHARS: Final = (b"\r", b"\n", b"\0")
_METHODS: Final = {m: m.encode() for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}


class UpstreamResponse:
    """One upstream response: status and headers are available at once, the body streams in.

    ``headers`` are the raw pairs as received, names lower-cased. The body is consumed either whole with
    :meth:`read` or piece by piece with :meth:`iter_chunks` (each item is everything that arrived since the
    previous one, so a fast consumer sees SSE events as the upstream flushes them).
    """

    __slots__ = (
        "_chunks",
        "_conn",
        "_done",
        "_exc",
        "_headers_fut",
        "_loop",
        "_pending",
        "_waiter",
        "headers",
        "status",
    )

    def __init__(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._conn: _Connection | None = conn  # None once the message is complete or failed
        self._loop = loop
        self._headers_fut: asyncio.Future[None] = loop.create_future()
        self._chunks: deque[bytes] = deque()
        self._pending = 0  # bytes received but not yet handed to the caller
        self._done = False
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- consumer side -------------------------------------------------------------------------------

    async def read(self) -> bytes:
        """Return the whole remaining body (raises :class:`UpstreamError` if the upstream broke off)."""
        if self._done and self._exc is None:  # fast path: small bodies arrive with the headers
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._pending = 0
            return data
        parts = [chunk async for chunk in self]
        return b"".join(parts)

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Iterate over the body as it arrives; stops at the end, raises on a broken or idle upstream."""
        return self

    def __aiter__(self) -> UpstreamResponse:
        return self

    async def __anext__(self) -> bytes:
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks.popleft() if len(chunks) == 1 else self._drain_all()
                self._pending -= len(data)
                conn = self._conn
                if conn is not None and conn.paused and self._pending <= _LOW_WATER:
                    conn.resume()
                return data
            if self._exc is not None:
                raise self._exc
            if self._done:
                raise StopAsyncIteration
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    def _drain_all(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data

    async def aclose(self) -> None:
        """Release the response: an unfinished body closes the connection (cancelling the generation)."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.abandon()
        if not self._done:
            self._done = True
            if self._exc is None:
                self._exc = UpstreamError("response was closed")
        self._chunks.clear()
        self._pending = 0

    # -- producer side (called by the connection) ---------------------------------------------------

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._pending += len(data)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self, exc: BaseException | None = None) -> None:
        self._conn = None
        if self._done:
            return
        self._done = True
        self._exc = exc
        fut = self._headers_fut
        if not fut.done():
            fut.set_exception(exc or UpstreamError("response ended before its headers"))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __repr__(self) -> str:
        return f"<UpstreamResponse status={self.status} done={self._done}>"


class _Connection(asyncio.Protocol):
    """One upstream socket; parses responses and feeds the current :class:`UpstreamResponse`."""

    __slots__ = (
        "_client",
        "_eof_body",
        "_framed",
        "_head",
        "_headers",
        "_idle_timeout",
        "_keep_alive",
        "_last_data",
        "_started",
        "_timer",
        "closed",
        "got_data",
        "key",
        "loop",
        "parser",
        "paused",
        "resp",
        "reused",
        "transport",
    )

    def __init__(self, client: UpstreamClient, key: tuple[str, str, int], loop: asyncio.AbstractEventLoop):
        self._client = client
        self.key = key
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.resp: UpstreamResponse | None = None
        self.closed = False
        self.reused = False  # served a previous request: may be stale
        self._started = 0.0  # loop time the current request was written
        self.got_data = False  # any byte of the current response seen
        self.paused = False
        self._head = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._framed = False  # the current message has content-length or transfer-encoding
        self._eof_body = False  # body delimited by connection close (no content-length / chunked)
        self._keep_alive = False
        self._timer: asyncio.TimerHandle | None = None
        self._idle_timeout: float | None = None
        self._last_data = 0.0

    # -- asyncio.Protocol ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):  # non-TCP or exotic transports
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.resp is None:  # bytes on an idle connection: the stream is out of sync, drop it
            self._close()
            return
        self.got_data = True
        if self._idle_timeout is not None:
            self._last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("upstream switched protocols; not supported"))
            return
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            self._fail(cause if isinstance(cause, UpstreamError) else UpstreamError(f"bad response: {exc}"))
            return
        if self._head:  # HEAD: llhttp cannot know there is no body; start afresh for the next message
            self._head = False
            self.parser = httptools.HttpResponseParser(self)
        resp = self.resp
        if resp is not None and not self.paused and resp._pending > _HIGH_WATER and self.transport:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        self._client._forget(self)
        resp = self.resp
        if resp is None:
            return
        self.resp = None
        if resp._headers_fut.done():
            if self._eof_body and exc is None:
                resp._finish()  # HTTP/1.0-style body: the close *is* the end of the message
            else:
                resp._finish(UpstreamError("upstream closed the connection mid-body"))
        elif self.got_data:
            resp._finish(UpstreamError("upstream closed the connection before the response headers"))
        elif self.reused and self.loop.time() - self._started < STALE_WINDOW_S:
            resp._finish(_StaleConnection())
        elif self.reused:  # it read the request and died while working on it: sending it again could
            resp._finish(UpstreamError("upstream closed the connection without a response"))  # run it twice
        else:
            resp._finish(UpstreamConnectError(f"upstream closed the connection without a response: {exc}"))

    # -- httptools callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._headers = []  # drop trailers of a previous chunked message
        self._framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or name == b"transfer-encoding":
            self._framed = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        resp = self.resp
        status = self.parser.get_status_code()
        if resp is None or 100 <= status < 200:  # interim 1xx responses (103 Early Hints...) are skipped
            self._headers = []
            return
        headers = self._headers
        self._headers = []
        self._keep_alive = self.parser.should_keep_alive()
        self._eof_body = not self._framed and status not in (204, 304) and not self._head
        resp.status = status
        resp.headers = headers
        self._cancel_timer()
        if self._idle_timeout is not None:
            self._last_data = self.loop.time()
            self._timer = self.loop.call_at(self._last_data + self._idle_timeout, self._on_idle_timer)
        fut = resp._headers_fut
        if not fut.done():
            fut.set_result(None)
        if self._head:
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        resp = self.resp
        if resp is not None:
            resp._feed(body)

    def on_message_complete(self) -> None:
        resp = self.resp
        if resp is None or not resp._headers_fut.done():  # end of a 1xx interim message
            return
        self.resp = None
        self._cancel_timer()
        resp._finish()
        if self._keep_alive and not self.closed:
            self.reused = True
            if self.paused and self.transport is not None:
                self.paused = False
                self.transport.resume_reading()
            self._client._release(self)
        else:
            self._close()

    # -- used by the client / response ---------------------------------------------------------------

    def start(self, resp: UpstreamResponse, head: bool, deadline: float, idle_timeout: float | None) -> None:
        self.resp = resp
        self._started = self.loop.time()
        self.got_data = False
        self._head = head
        self._idle_timeout = idle_timeout
        self._timer = self.loop.call_at(deadline, self._on_header_timer)

    def resume(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def abandon(self) -> None:
        """The caller gave up on the current response: the connection cannot be reused."""
        self.resp = None
        self._close()

    def _fail(self, exc: BaseException) -> None:
        resp = self.resp
        self.resp = None
        if resp is not None:
            resp._finish(exc)
        self._close()

    def _close(self) -> None:
        self._cancel_timer()
        self.closed = True
        self._client._forget(self)
        if self.transport is not None:
            self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_header_timer(self) -> None:
        self._timer = None
        self._fail(UpstreamTimeout("no response headers from upstream within the timeout"))

    def _on_idle_timer(self) -> None:
        # One timer per idle period, re-armed lazily: cheaper than cancelling and rescheduling per chunk.
        idle = self._idle_timeout
        assert idle is not None
        now = self.loop.time()
        if self.paused or now - self._last_data < idle:  # paused: the consumer, not upstream, is slow
            start = now if self.paused else self._last_data
            self._timer = self.loop.call_at(start + idle, self._on_idle_timer)
            return
        self._timer = None
        self._fail(UpstreamTimeout(f"upstream sent no body bytes for {idle:g} s"))


class UpstreamClient:
    """Connection-pooled HTTP/1.1 client; one instance per process, shared by all requests.

    Idle connections are kept per (scheme, host, port), most recently used first, and dropped after
    ``keepalive_expiry`` seconds idle: the common upstream servers (uvicorn, so vLLM) close idle
    connections after 5 s, and reusing one just as the server closes it costs a retry. Only idle
    connections are capped; concurrency towards an upstream is bounded by the caller.

    ``transport`` opens the connections (default :class:`SocketTransport`); tests pass
    :class:`~semrouter.upstream.mock.MockTransport` to drive everything above the socket in memory.
    """

    def __init__(
        self,
        *,
        max_idle_per_host: int = 256,
        connect_timeout: float = 5.0,
        keepalive_expiry: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
        transport: UpstreamTransport | None = None,
    ) -> None:
        self._max_idle = max_idle_per_host
        self._connect_timeout = connect_timeout
        self._expiry = keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_since: dict[_Connection, float] = {}
        self._all: set[_Connection] = set()
        self._urls: dict[str, tuple[tuple[str, str, int], bytes, bytes]] = {}
        self._ssl = ssl_context  # for https:// upstreams; default: the system CAs, verified
        # What opens connections: sockets in production, an in-memory fake in tests (see transport.py).
        self._transport: UpstreamTransport = transport if transport is not None else SocketTransport()
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        timeout: float,
        idle_timeout: float | None = None,
    ) -> UpstreamResponse:
        """Send one request and return once the response headers have arrived.

        ``timeout`` bounds connect + send + waiting for headers; ``idle_timeout`` (optional) bounds the
        gap between body chunks afterwards. ``host``, ``content-length`` and ``connection`` are set here
        and any caller copies of them (and of other hop-by-hop headers) are dropped.

        A reused keep-alive connection that closes before any response byte arrives (the server closed
        it while idle, racing our write) is retried once on a fresh connection. The server cannot have
        answered the request, but it may in principle have read it: that is the same trade-off browsers,
        Go's net/http and aiohttp make, and it is what makes keep-alive pools usable at all.

        Raises :class:`UpstreamConnectError` (nothing was answered; safe to retry elsewhere),
        :class:`UpstreamTimeout`, :class:`UpstreamError`, or ``ValueError`` for a malformed URL/header.
        """
        if self._closed:
            raise UpstreamError("client is closed")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        key, host, path = self._parse_url(url)
        method_b = _METHODS.get(method)
        if method_b is None:
            if not (method.isascii() and method.isalpha()):
                raise ValueError(f"invalid HTTP method {method!r}")
            method_b = method.encode("ascii")
        lines = [
            b"%s %s HTTP/1.1\r\nhost: %s\r\ncontent-length: %d\r\nconnection: keep-alive\r\n"
            % (method_b, path, host, len(body))
        ]
        for name, value in headers:
            if name.lower() in _OWN_HEADERS:
                continue
            for bad in _BAD_CHARS:
                if bad in value or bad in name:
                    raise ValueError(f"invalid character in header {name!r}")
            lines += (name, b": ", value, b"\r\n")
        lines.append(b"\r\n")
        if len(body) <= 65536:
            lines.append(body)
            data = [b"".join(lines)]
        else:
            data = [b"".join(lines), body]
        head = method == "HEAD"

        conn = self._acquire(key, loop)
        if conn is not None:
            try:
                return await self._exchange(conn, data, head, deadline, idle_timeout, loop)
            except _StaleConnection:
                pass
        conn = await self._connect(key, deadline, loop)
        return await self._exchange(conn, data, head, deadline, idle_timeout, loop)

    async def aclose(self) -> None:
        """Close every connection, idle or busy; in-flight responses fail with :class:`UpstreamError`."""
        self._closed = True
        for conn in list(self._all):
            conn._fail(UpstreamError("client closed"))
        self._idle.clear()
        self._idle_since.clear()
        self._all.clear()

    # -- internals -----------------------------------------------------------------------------------

    async def _exchange(
        self,
        conn: _Connection,
        data: list[bytes],
        head: bool,
        deadline: float,
        idle_timeout: float | None,
        loop: asyncio.AbstractEventLoop,
    ) -> UpstreamResponse:
        transport = conn.transport
        assert transport is not None
        try:  # written before the response is armed: no callback can run in between
            if len(data) == 1:
                transport.write(data[0])
            else:
                transport.writelines(data)
        except (OSError, RuntimeError) as exc:  # the transport was closed under us
            conn.abandon()
            if conn.reused:
                raise _StaleConnection() from exc
            raise UpstreamConnectError(f"upstream connection failed on write: {exc}") from exc
        resp = UpstreamResponse(conn, loop)
        conn.start(resp, head, deadline, idle_timeout)
        try:
            await resp._headers_fut
        except _StaleConnection:
            raise
        except BaseException:  # timeout, error or caller cancellation: this socket is finished
            if resp._conn is not None:
                resp._conn = None
                conn.abandon()
            raise
        return resp

    def _acquire(self, key: tuple[str, str, int], loop: asyncio.AbstractEventLoop) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        now = loop.time()
        while idle:
            conn = idle.pop()
            since = self._idle_since.pop(conn, 0.0)
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if now - since > self._expiry:  # LIFO: everything below is older still
                conn._close()
                for old in idle:
                    self._idle_since.pop(old, None)
                    old._close()
                idle.clear()
                return None
            return conn
        return None

    def _release(self, conn: _Connection) -> None:
        if self._closed:
            conn._close()
            return
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= self._max_idle:
            conn._close()
            return
        idle.append(conn)
        self._idle_since[conn] = conn.loop.time()

    def _forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        if self._idle_since.pop(conn, None) is not None:
            idle = self._idle.get(conn.key)
            if idle is not None and conn in idle:
                idle.remove(conn)

    async def _connect(
        self, key: tuple[str, str, int], deadline: float, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        scheme, host, port = key
        sslctx: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            sslctx = self._ssl
        conn = _Connection(self, key, loop)
        budget = min(self._connect_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(budget):
                transport = await self._transport.connect(
                    lambda: conn, host, port, ssl=sslctx, server_hostname=host if sslctx else None
                )
        except TimeoutError:
            raise UpstreamConnectError(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise UpstreamConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        if conn.transport is None:  # uvloop calls connection_made only after create_connection returns
            conn.transport = transport
        if self._closed:
            conn._close()
            raise UpstreamError("client is closed")
        self._all.add(conn)
        return conn

    def _parse_url(self, url: str) -> tuple[tuple[str, str, int], bytes, bytes]:
        hit = self._urls.get(url)
        if hit is not None:
            return hit
        scheme, sep, rest = url.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("http", "https"):
            raise ValueError(f"unsupported upstream URL {url!r}: http:// or https:// expected")
        authority, slash, path = rest.partition("/")
        path = slash + path if slash else "/"
        if "?" in authority or "#" in authority or "@" in authority:
            raise ValueError(f"unsupported upstream URL {url!r}")
        path = path.split("#", 1)[0]
        default_port = 443 if scheme == "https" else 80
        if authority.startswith("["):  # IPv6 literal
            end = authority.find("]")
            host, port_s = authority[1:end], authority[end + 2 :]
            host_header = authority[: end + 1]
        else:
            host, _, port_s = authority.partition(":")
            host_header = host.encode("idna").decode("ascii")
        port = int(port_s) if port_s else default_port
        if not host or not 0 < port < 65536 or any(c in path for c in " \r\n\0"):
            raise ValueError(f"invalid upstream URL {url!r}")
        if port != default_port:
            host_header = f"{host_header}:{port}"
        hit = ((scheme, host, port), host_header.encode("ascii"), path.encode("ascii"))
        if len(self._urls) >= _URL_CACHE_MAX:
            self._urls.clear()
        self._urls[url] = hit
        return hit
