"""UpstreamClient against real loopback servers.

The servers are raw asyncio TCP servers that write hand-made HTTP bytes, so each test controls framing,
timing and connection closes exactly (stale keep-alive sockets, bodies cut off mid-way, stalls).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from semrouter.upstream.client import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeout,
)

Handler = Callable[["Server", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def bounded(test: F) -> F:
    """A broken client must fail a test, not hang the suite: every test gets 10 s."""

    @functools.wraps(test)
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(10):
            await test(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Request:
    def __init__(self, line: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.line = line
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.headers if n == name]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request (content-length framed); None on a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *rest = head[:-4].split(b"\r\n")
    headers = [(n.strip().lower(), v.strip()) for n, _, v in (h.partition(b":") for h in rest)]
    length = int(dict(headers).get(b"content-length", b"0"))
    body = await reader.readexactly(length)
    return Request(line, headers, body)


class Server:
    """Counts connections and requests; ``disconnected`` is set whenever a client hangs up."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.requests: list[Request] = []
        self.disconnected = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1/chat/completions"

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._on_conn, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # client went away, or the test is over
        finally:
            self.disconnected.set()
            writer.close()
            self._tasks.discard(task)

    async def next_request(self, reader: asyncio.StreamReader) -> Request | None:
        req = await read_request(reader)
        if req is not None:
            self.requests.append(req)
        return req


def respond(*parts: bytes) -> Handler:
    """Keep-alive server answering every request with the same bytes."""

    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await srv.next_request(reader) is not None:
            for part in parts:
                writer.write(part)
            await writer.drain()

    return handler


JSON_BODY = b'{"id":"x","object":"chat.completion","choices":[]}'
CL_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(JSON_BODY),
    JSON_BODY,
)


@pytest.fixture
async def client() -> UpstreamClient:  # type: ignore[misc]
    c = UpstreamClient()
    yield c
    await c.aclose()


@pytest.mark.asyncio
@bounded
async def test_content_length_body_and_request_headers(client: UpstreamClient) -> None:
    async with Server(respond(CL_RESPONSE)) as srv:
        headers = [
            (b"Content-Type", b"application/json"),
            (b"Content-Length", b"999"),  # caller's framing headers are replaced, never duplicated
            (b"Connection", b"close"),
            (b"x-request-id", b"abc"),
        ]
        resp = await client.request("POST", srv.url, headers, b'{"a":1}', timeout=5)
        assert resp.status == 200
        assert (b"content-type", b"application/json") in resp.headers
        assert await resp.read() == JSON_BODY
        req = srv.requests[0]
        assert req.line == b"POST /v1/chat/completions HTTP/1.1"
        assert req.header(b"host") == [f"127.0.0.1:{srv.port}".encode()]
        assert req.header(b"content-length") == [b"7"]
        assert req.header(b"connection") == [b"keep-alive"]
        assert req.header(b"x-request-id") == [b"abc"]
        assert req.body == b'{"a":1}'


@pytest.mark.asyncio
@bounded
async def test_chunked_body(client: UpstreamClient) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    async with Server(respond(chunked[:40], chunked[40:])) as srv:
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert await resp.read() == b"hello world"
        # the same connection carries the next exchange: framing ended exactly at the last chunk
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert await resp.read() == b"hello world"
        assert srv.connections == 1


@pytest.mark.asyncio
@bounded
async def test_sse_chunks_arrive_before_the_stream_ends(client: UpstreamClient) -> None:
    release = asyncio.Event()

    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        first = b'data: {"delta":"Hel"}\n\n'
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        await release.wait()  # the rest is only sent once the client has seen the first event
        last = b"data: [DONE]\n\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))
        await writer.drain()
        await srv.next_request(reader)

    async with Server(handler) as srv:
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5, idle_timeout=5)
        chunks = resp.iter_chunks()
        async with asyncio.timeout(2):  # a buffering client would deadlock here
            assert await chunks.__anext__() == b'data: {"delta":"Hel"}\n\n'
        release.set()
        assert [c async for c in chunks] == [b"data: [DONE]\n\n"]
        await resp.aclose()


@pytest.mark.asyncio
@bounded
async def test_keep_alive_reuse(client: UpstreamClient) -> None:
    async with Server(respond(CL_RESPONSE)) as srv:
        for _ in range(5):
            resp = await client.request("POST", srv.url, [], b"{}", timeout=5)
            assert await resp.read() == JSON_BODY
        assert srv.connections == 1

        async def one() -> bytes:
            r = await client.request("POST", srv.url, [], b"{}", timeout=5)
            return await r.read()

        for _ in range(3):
            assert await asyncio.gather(*(one() for _ in range(4))) == [JSON_BODY] * 4
        assert srv.connections <= 4
        assert len(srv.requests) == 17


@pytest.mark.asyncio
@bounded
async def test_idle_connections_expire_and_pool_is_capped() -> None:
    client = UpstreamClient(keepalive_expiry=0.05, max_idle_per_host=1)
    try:
        async with Server(respond(CL_RESPONSE)) as srv:

            async def one() -> bytes:
                r = await client.request("POST", srv.url, [], b"{}", timeout=5)
                return await r.read()

            assert list(await asyncio.gather(one(), one(), one())) == [JSON_BODY] * 3
            assert srv.connections == 3
            await one()
            assert srv.connections == 3  # one connection was kept, the other two closed
            await asyncio.sleep(0.1)
            await one()
            assert srv.connections == 4  # the kept one expired
    finally:
        await client.aclose()


@pytest.mark.asyncio
@bounded
async def test_stale_connection_closed_while_idle_is_not_reused(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(CL_RESPONSE)  # keep-alive response, then the server drops the socket
        await writer.drain()

    async with Server(handler) as srv:
        assert await (await client.request("POST", srv.url, [], b"{}", timeout=5)).read() == JSON_BODY
        await srv.disconnected.wait()
        await asyncio.sleep(0.01)  # let the client's transport see the FIN
        assert await (await client.request("POST", srv.url, [], b"{}", timeout=5)).read() == JSON_BODY
        assert srv.connections == 2


@pytest.mark.asyncio
@bounded
async def test_stale_connection_race_is_retried_once_on_a_fresh_connection(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(CL_RESPONSE)
        await writer.drain()
        if srv.connections == 1:
            # the race: the client already wrote its next request when the server closes the idle socket
            await reader.readuntil(b"\r\n\r\n")
            writer.transport.abort()
            return
        await srv.next_request(reader)

    async with Server(handler) as srv:
        assert await (await client.request("POST", srv.url, [], b"{}", timeout=5)).read() == JSON_BODY
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert await resp.read() == JSON_BODY
        assert srv.connections == 2


@pytest.mark.asyncio
@bounded
async def test_fresh_connection_closed_without_response_is_a_connect_error(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.transport.abort()

    async with Server(handler) as srv:
        with pytest.raises(UpstreamConnectError):
            await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert srv.connections == 1  # no retry on a fresh connection


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
    ],
    ids=["content-length", "chunked"],
)
@bounded
async def test_server_closes_mid_body(client: UpstreamClient, partial: bytes) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(partial)
        await writer.drain()

    async with Server(handler) as srv:
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert resp.status == 200
        with pytest.raises(UpstreamError, match="mid-body") as info:
            await resp.read()
        assert not isinstance(info.value, UpstreamConnectError | UpstreamTimeout)


@pytest.mark.asyncio
@bounded
async def test_server_closes_before_headers_complete(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
        await writer.drain()

    async with Server(handler) as srv:
        with pytest.raises(UpstreamError, match="before the response headers") as info:
            await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert not isinstance(info.value, UpstreamConnectError)


@pytest.mark.asyncio
@bounded
async def test_timeout_waiting_for_headers(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        await reader.read()  # never answers; returns when the client gives up

    async with Server(handler) as srv:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(UpstreamTimeout):
            await client.request("POST", srv.url, [], b"{}", timeout=0.2)
        assert 0.15 < loop.time() - start < 1.0
        async with asyncio.timeout(1):
            await srv.disconnected.wait()  # the timed-out socket is closed, not pooled


@pytest.mark.asyncio
@bounded
async def test_idle_timeout_between_body_chunks(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await reader.read()  # stalls mid-stream

    async with Server(handler) as srv:
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5, idle_timeout=0.2)
        chunks = resp.iter_chunks()
        assert await chunks.__anext__() == b"abc"
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(UpstreamTimeout):
            await chunks.__anext__()
        assert 0.1 < loop.time() - start < 1.0
        async with asyncio.timeout(1):
            await srv.disconnected.wait()


@pytest.mark.asyncio
@bounded
async def test_connect_refused(client: UpstreamClient) -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UpstreamConnectError):
        await client.request("POST", f"http://127.0.0.1:{port}/v1/models", [], b"", timeout=5)


@pytest.mark.asyncio
@bounded
async def test_aclose_before_end_closes_the_upstream_socket(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        while True:  # an endless generation, until the client hangs up
            writer.write(b"6\r\ndata: \r\n")
            await writer.drain()
            await asyncio.sleep(0.005)

    async with Server(handler) as srv:
        resp = await client.request("POST", srv.url, [], b"{}", timeout=5)
        assert await resp.iter_chunks().__anext__()
        await resp.aclose()
        async with asyncio.timeout(1):
            await srv.disconnected.wait()
        with pytest.raises(UpstreamError):
            await resp.read()


@pytest.mark.asyncio
@bounded
async def test_connection_close_and_http10_eof_body(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await srv.next_request(reader)
        if srv.connections == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await reader.read()
        else:  # HTTP/1.0 without a length: the body runs until the server closes
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
            await writer.drain()
            writer.write(b"eof")
            await writer.drain()

    async with Server(handler) as srv:
        assert await (await client.request("GET", srv.url, [], b"", timeout=5)).read() == b"ok"
        assert await (await client.request("GET", srv.url, [], b"", timeout=5)).read() == b"until eof"
        assert srv.connections == 2  # "Connection: close" was honoured: no reuse


@pytest.mark.asyncio
@bounded
async def test_bodyless_responses_keep_the_connection(client: UpstreamClient) -> None:
    async def handler(srv: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (req := await srv.next_request(reader)) is not None:
            if req.line.startswith(b"HEAD"):  # announces a length but, being HEAD, sends no body
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
            elif req.line.startswith(b"DELETE"):
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif req.line.startswith(b"PUT"):
                writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + CL_RESPONSE)
            else:
                writer.write(b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n")
            await writer.drain()

    async with Server(handler) as srv:
        for method, status, body in [
            ("HEAD", 200, b""),
            ("DELETE", 204, b""),
            ("GET", 304, b""),
            ("PUT", 200, JSON_BODY),
            ("HEAD", 200, b""),
        ]:
            resp = await client.request(method, srv.url, [], b"", timeout=5)
            assert (resp.status, await resp.read()) == (status, body)
        assert resp.headers == [(b"content-length", b"1234")]
        assert srv.connections == 1


@pytest.mark.asyncio
@bounded
async def test_large_streamed_body_with_backpressure(client: UpstreamClient) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: above the pause threshold

    async with Server(respond(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload), payload)) as srv:
        resp = await client.request("GET", srv.url, [], b"", timeout=5)
        await asyncio.sleep(0.05)  # let the upstream fill the buffer while nobody reads
        got = bytearray()
        async for chunk in resp.iter_chunks():
            got += chunk
        assert bytes(got) == payload
        assert await (await client.request("GET", srv.url, [], b"", timeout=5)).read() == payload
        assert srv.connections == 1


@pytest.mark.asyncio
@bounded
async def test_rejects_header_injection_and_bad_urls(client: UpstreamClient) -> None:
    with pytest.raises(ValueError):
        await client.request("POST", "http://127.0.0.1:1/x", [(b"x-a", b"1\r\nx-b: 2")], b"", timeout=1)
    with pytest.raises(ValueError):
        await client.request("POST", "ftp://127.0.0.1/x", [], b"", timeout=1)
    with pytest.raises(ValueError):
        await client.request("GET /x HTTP/1.1\r\n", "http://127.0.0.1:1/x", [], b"", timeout=1)


@pytest.mark.asyncio
@bounded
async def test_https_upstream(tmp_path: Any) -> None:
    import datetime
    import ipaddress

    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    async with Server(respond(CL_RESPONSE), tls=server_ctx) as srv:
        url = srv.url
        with_ca = UpstreamClient(ssl_context=ssl.create_default_context(cafile=str(cert_file)))
        try:
            for _ in range(3):
                resp = await with_ca.request("POST", url, [], b"{}", timeout=5)
                assert await resp.read() == JSON_BODY
            assert srv.connections == 1
            assert srv.requests[0].header(b"host") == [f"127.0.0.1:{srv.port}".encode()]
        finally:
            await with_ca.aclose()
        untrusted = UpstreamClient()  # system CAs: the self-signed certificate must be rejected
        try:
            with pytest.raises(UpstreamConnectError):
                await untrusted.request("POST", url, [], b"{}", timeout=5)
        finally:
            await untrusted.aclose()


def test_core_paths_under_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        client = UpstreamClient()
        try:
            await test_keep_alive_reuse(client)
            await test_chunked_body(client)
            await test_sse_chunks_arrive_before_the_stream_ends(client)
            await test_stale_connection_race_is_retried_once_on_a_fresh_connection(client)
            await test_aclose_before_end_closes_the_upstream_socket(client)
        finally:
            await client.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
