"""A small gRPC server on asyncio for the two services Envoy calls: ext_proc's ``Process`` and ``Health``.

Why not grpcio: behind Envoy each HTTP request is one gRPC stream, and grpcio's asyncio server spends
about 0.4 ms of CPU per stream and as much again per message in its core and the hand-offs between its
poller thread and the event loop, several times the routing work itself (docs/benchmarks.md, "Envoy
ext_proc path"). The subset of HTTP/2 that a gRPC server needs for these calls is small: frames parsed
here, headers decoded with ``hpack`` (stateful, per connection), answers' header blocks pre-encoded once
(literals that never touch the dynamic table), writes of one event-loop turn sent together.

What it implements: the connection preface and SETTINGS, PING, WINDOW_UPDATE and send-side flow control,
HEADERS (+CONTINUATION, padding, priority), DATA, RST_STREAM, GOAWAY (sent on shutdown, honoured when
received); gRPC framing without compression (Envoy does not compress ext_proc messages; a compressed
message ends its stream with UNIMPLEMENTED); unknown methods answer UNIMPLEMENTED. Receive windows are
opened to the maximum at the start and topped up, since every message is read at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import hpack

log = logging.getLogger("semrouter.extproc")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
MAX_WINDOW = 2**31 - 1
_FRAME = struct.Struct(">IBI")  # length << 8 | type, flags, stream id: the 9-byte frame header
_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")
_MSG = struct.Struct(">BI")  # gRPC message prefix: compressed flag, length

# gRPC status codes used here
OK, CANCELLED, UNKNOWN, NOT_FOUND, RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 0, 1, 2, 5, 8, 12, 13, 14
# HTTP/2 error codes
NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM, H2_CANCEL, ENHANCE_YOUR_CALM = 0x0, 0x1, 0x7, 0x8, 0xB
MAX_HEADER_BLOCK = 256 * 1024
"""A header block (HEADERS + CONTINUATION) larger than this aborts the connection: Envoy's are < 1 KB."""
DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024
"""Largest gRPC message a stream may send (the receive windows are wide open, so this is what bounds the
memory one call can take); a larger one ends the call with RESOURCE_EXHAUSTED before it is buffered."""


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload."""
    return _FRAME.pack(len(payload) << 8 | kind, flags, stream & MAX_WINDOW) + payload


def _literal(name: bytes, value: bytes) -> bytes:
    """An HPACK "literal header field without indexing, new name" (short strings, no Huffman): the same
    bytes on every connection, since it neither reads nor changes the dynamic table."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


# :status 200 is index 8 of HPACK's static table: one byte.
RESPONSE_HEADERS = b"\x88" + _literal(b"content-type", b"application/grpc")


def trailers_block(status: int, message: str = "") -> bytes:
    block = _literal(b"grpc-status", str(status).encode())
    if message:
        block += _literal(b"grpc-message", message.encode("ascii", "replace")[:120])
    return block


_OK_TRAILERS = trailers_block(OK)


class StreamReset(Exception):
    """The client reset the stream (or the connection went away) before it ended."""


class Stream:
    """One gRPC call: the messages received, the send window, the state of both directions."""

    __slots__ = ("buf", "conn", "ended", "id", "messages", "path", "reset", "send_window", "started", "waiter")

    def __init__(self, conn: Connection, stream_id: int, path: str, send_window: int) -> None:
        self.conn = conn
        self.id = stream_id
        self.path = path
        self.buf = bytearray()
        self.messages: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.ended = False  # the client half-closed: no more messages
        self.reset = False
        self.send_window = send_window
        self.started = False  # response headers sent

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def feed(self, data: bytes | memoryview, end: bool) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 5:
            compressed, length = _MSG.unpack_from(buf)
            if length > self.conn.server.max_message:
                buf.clear()
                self.conn.end_stream(
                    self, RESOURCE_EXHAUSTED, f"message larger than {self.conn.server.max_message} bytes"
                )
                return
            if len(buf) < 5 + length:
                break
            if compressed:
                self.conn.end_stream(self, UNIMPLEMENTED, "compressed messages are not supported")
                return
            self.messages.append(bytes(buf[5 : 5 + length]))
            del buf[: 5 + length]
        if end:
            self.ended = True
        self._wake()

    async def next(self) -> bytes | None:
        """The next whole message; None once the client has half-closed; StreamReset if it reset."""
        while True:
            if self.messages:
                return self.messages.popleft()
            if self.reset:
                raise StreamReset
            if self.ended:
                return None
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def requests(self, parse: Callable[[bytes], Any]) -> AsyncIterator[Any]:
        while (data := await self.next()) is not None:
            yield parse(data)


Handler = Callable[[Stream], Awaitable[None]]


class Connection(asyncio.Protocol):
    """One HTTP/2 connection from a gRPC client (Envoy holds one or a few, with many streams each)."""

    def __init__(self, server: GrpcServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.preface = False
        self.decoder = hpack.Decoder()
        self.paths: dict[bytes, str] = {}  # header blocks that decode without touching the table: their path
        self.streams: dict[int, Stream] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.send_window = 65535  # the connection's, as the client allows
        self.initial_window = 65535  # each new stream's, from the client's SETTINGS
        self.max_frame = 16384
        self.window_waiters: list[asyncio.Future[None]] = []
        self.received = 0  # bytes of DATA since our last connection WINDOW_UPDATE
        self.continuation: tuple[int, int, bytearray] | None = None  # stream, flags, header block so far
        self.last_stream = 0
        self.closing = False  # GOAWAY sent or received: no new streams

    # -- transport -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's is not a subclass)
        self.server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):  # answers go out at once
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # our SETTINGS: no push, stream windows at the maximum; then the connection window to the maximum
        settings = _SETTING.pack(0x2, 0) + _SETTING.pack(0x4, MAX_WINDOW)
        self.write(frame(SETTINGS, 0, 0, settings))
        self.write(frame(WINDOW_UPDATE, 0, 0, _U32.pack(MAX_WINDOW - 65535)))
        if self.server.draining:
            self.goaway()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None
        for stream in list(self.streams.values()):
            stream.reset = True
            stream._wake()
        self.streams.clear()
        for w in self.window_waiters:
            if not w.done():
                w.set_result(None)

    def write(self, data: bytes) -> None:
        self.out.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.transport is not None and self.out:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    # -- receiving -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.buf:  # the rest of a frame that came in parts
            self.buf += data
            data = bytes(self.buf)
            self.buf.clear()
        if not self.preface:
            if len(data) < len(PREFACE):
                self.buf += data
                return
            if data[: len(PREFACE)] != PREFACE:
                self.abort(PROTOCOL_ERROR)
                return
            data = data[len(PREFACE) :]
            self.preface = True
        pos, end = 0, len(data)
        view = memoryview(data)  # frames' payloads are slices of it: no copies
        while end - pos >= 9:
            length = int.from_bytes(data[pos : pos + 3], "big")
            if end - pos < 9 + length:
                break
            kind, flags = data[pos + 3], data[pos + 4]
            stream_id = _U32.unpack_from(data, pos + 5)[0] & MAX_WINDOW
            payload = view[pos + 9 : pos + 9 + length]
            pos += 9 + length
            self.on_frame(kind, flags, stream_id, payload)
            if self.transport is None:
                return
        if pos < end:
            self.buf += data[pos:]

    def on_frame(self, kind: int, flags: int, stream_id: int, payload: memoryview) -> None:
        if self.continuation is not None and kind != CONTINUATION:
            self.abort(PROTOCOL_ERROR)
            return
        if kind == DATA:
            self.on_data(flags, stream_id, payload)
        elif kind == HEADERS:
            self.on_headers(flags, stream_id, payload)
        elif kind == CONTINUATION:
            if self.continuation is None or self.continuation[0] != stream_id:
                self.abort(PROTOCOL_ERROR)
                return
            self.continuation[2].extend(payload)
            if len(self.continuation[2]) > MAX_HEADER_BLOCK:
                self.abort(ENHANCE_YOUR_CALM)
                return
            if flags & END_HEADERS:
                sid, first_flags, block = self.continuation
                self.continuation = None
                self.on_header_block(first_flags, sid, bytes(block))
        elif kind == SETTINGS:
            if not flags & ACK:
                self.on_settings(payload)
                self.write(frame(SETTINGS, ACK, 0))
        elif kind == WINDOW_UPDATE:
            increment = _U32.unpack_from(payload)[0] & MAX_WINDOW
            if stream_id == 0:
                self.send_window += increment
            elif (stream := self.streams.get(stream_id)) is not None:
                stream.send_window += increment
            self.wake_senders()
        elif kind == PING:
            if not flags & ACK:
                self.write(frame(PING, ACK, 0, bytes(payload)))
        elif kind == RST_STREAM:
            stream = self.streams.pop(stream_id, None)
            if stream is not None:
                stream.reset = True
                stream._wake()
                self.wake_senders()
        elif kind == GOAWAY:
            self.closing = True
            self.maybe_close()
        # PRIORITY, PUSH_PROMISE (never from a client) and unknown frame types are ignored

    def on_settings(self, payload: memoryview) -> None:
        for i in range(0, len(payload) - 5, 6):
            key, value = _SETTING.unpack_from(payload, i)
            if key == 0x4:  # INITIAL_WINDOW_SIZE: applies to open streams too (the difference)
                delta = value - self.initial_window
                self.initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
                self.wake_senders()
            elif key == 0x5:
                self.max_frame = value

    def on_data(self, flags: int, stream_id: int, payload: memoryview) -> None:
        self.received += len(payload)
        if self.received > 1 << 30:  # top the connection window up long before it runs out
            self.write(frame(WINDOW_UPDATE, 0, 0, _U32.pack(self.received)))
            self.received = 0
        if flags & PADDED:
            payload = payload[1 : len(payload) - payload[0]]
        stream = self.streams.get(stream_id)
        if stream is not None and not stream.ended:
            stream.feed(payload, bool(flags & END_STREAM))

    def on_headers(self, flags: int, stream_id: int, payload: memoryview) -> None:
        start, stop = 0, len(payload)
        if flags & PADDED:
            start, stop = 1, stop - payload[0]
        if flags & PRIORITY_FLAG:
            start += 5
        block = bytes(payload[start:stop])
        if not flags & END_HEADERS:
            self.continuation = (stream_id, flags, bytearray(block))
            return
        self.on_header_block(flags, stream_id, block)

    def decode_path(self, block: bytes) -> str | None:
        """``:path`` of a header block (None: the block is broken, the connection aborted). A block whose
        decoding leaves the dynamic table as it was decodes the same next time: Envoy sends every
        ext_proc stream's headers as the same bytes (indexed fields and a literal path), so those are
        remembered instead of decoded again; any change to the table forgets them."""
        table = self.decoder.header_table.dynamic_entries
        before = (len(table), id(table[0]) if table else 0)
        try:
            headers = self.decoder.decode(block, raw=True)
        except hpack.HPACKError:
            self.abort(PROTOCOL_ERROR)
            return None
        path = next((v.decode("latin-1") for k, v in headers if k == b":path"), "")
        if (len(table), id(table[0]) if table else 0) != before:
            self.paths.clear()
        elif len(self.paths) < 64:
            self.paths[block] = path
        return path

    def on_header_block(self, flags: int, stream_id: int, block: bytes) -> None:
        path = self.paths.get(block)
        if path is None:
            path = self.decode_path(block)
            if path is None:
                return
        stream = self.streams.get(stream_id)
        if stream is not None:  # trailers from the client: the end of its side
            if flags & END_STREAM:
                stream.feed(b"", True)
            return
        if stream_id <= self.last_stream:  # a closed stream's late frame
            return
        self.last_stream = stream_id
        if self.closing:
            self.write(frame(RST_STREAM, 0, stream_id, _U32.pack(REFUSED_STREAM)))
            return
        stream = Stream(self, stream_id, path, self.initial_window)
        self.streams[stream_id] = stream
        if flags & END_STREAM:
            stream.ended = True
        handler = self.server.handlers.get(path)
        if handler is None:
            self.end_stream(stream, UNIMPLEMENTED, f"unknown method {path}")
            return
        task = asyncio.get_running_loop().create_task(self.run(handler, stream))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, handler: Handler, stream: Stream) -> None:
        try:
            await handler(stream)
        except StreamReset:
            pass
        except Exception as exc:
            log.exception("gRPC call %s failed", stream.path)
            self.end_stream(stream, INTERNAL, type(exc).__name__)
            return
        self.end_stream(stream, OK)

    # -- sending ---------------------------------------------------------------------------------

    async def send(self, stream: Stream, message: bytes, last: bool = False) -> None:
        """One gRPC message on ``stream``, in frames the client's windows and frame size allow; ``last``: the
        call then ends with OK, its trailers in the same write.

        The writes of one loop turn go out together (one syscall for many streams under load), except when
        no other stream of the connection is open: then nothing could join them, and the answer leaves at
        once instead of a loop turn later (what one request at a time waits for)."""
        if stream.reset or self.transport is None:
            raise StreamReset
        if not stream.started:
            stream.started = True
            self.write(frame(HEADERS, END_HEADERS, stream.id, RESPONSE_HEADERS))
        data = _MSG.pack(0, len(message)) + message
        if len(data) <= min(self.send_window, stream.send_window, self.max_frame):  # the usual case: at once
            self.send_window -= len(data)
            stream.send_window -= len(data)
            self.write(frame(DATA, 0, stream.id, data))
            if last:
                self.end_stream(stream, OK)
            if len(self.streams) <= (0 if last else 1):
                self.flush()
            return
        view = memoryview(data)
        while view:
            allowed = min(self.send_window, stream.send_window, self.max_frame, len(view))
            if allowed <= 0:
                waiter = asyncio.get_running_loop().create_future()
                self.window_waiters.append(waiter)
                await waiter
                if stream.reset or self.transport is None:
                    raise StreamReset
                continue
            self.send_window -= allowed
            stream.send_window -= allowed
            self.write(frame(DATA, 0, stream.id, bytes(view[:allowed])))
            view = view[allowed:]
        if last:
            self.end_stream(stream, OK)

    def wake_senders(self) -> None:
        waiters, self.window_waiters = self.window_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def end_stream(self, stream: Stream, status: int, message: str = "") -> None:
        """Trailers (or, before any message, a trailers-only answer) and the stream is done on our side."""
        if self.streams.get(stream.id) is not stream:
            return  # reset by the client, or already ended
        block = _OK_TRAILERS if status == OK and not message else trailers_block(status, message)
        if not stream.started:
            block = RESPONSE_HEADERS + block
        self.write(frame(HEADERS, END_HEADERS | END_STREAM, stream.id, block))
        if not stream.ended:  # the client still sends: it must stop (a reset with NO_ERROR, as RFC 9113 asks)
            self.write(frame(RST_STREAM, 0, stream.id, _U32.pack(NO_ERROR)))
        del self.streams[stream.id]
        stream.reset = True  # nothing more on it
        self.maybe_close()

    def goaway(self) -> None:
        if self.transport is None:
            return
        self.closing = True
        self.write(frame(GOAWAY, 0, 0, _U32.pack(self.last_stream) + _U32.pack(NO_ERROR)))
        self.maybe_close()

    def maybe_close(self) -> None:
        if self.closing and not self.streams and self.transport is not None:
            self.flush()
            self.transport.close()

    def abort(self, code: int) -> None:
        if self.transport is not None:
            self.write(frame(GOAWAY, 0, 0, _U32.pack(self.last_stream) + _U32.pack(code)))
            self.flush()
            self.transport.close()
            self.connection_lost(None)


class GrpcServer:
    """Handlers by method path (``/package.Service/Method``) on one listening socket."""

    def __init__(self, handlers: dict[str, Handler], max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.handlers = handlers
        self.max_message = max_message
        self.connections: set[Connection] = set()
        self.server: asyncio.Server | None = None
        self.draining = False

    async def start(self, sock: socket.socket) -> None:
        """Serve on a socket bound beforehand (so a taken port fails the start-up before anything loads)."""
        self.server = await asyncio.get_running_loop().create_server(lambda: Connection(self), sock=sock)

    async def stop(self, grace_s: float) -> None:
        """No new streams (GOAWAY to every client, the socket closed), then ``grace_s`` for the open ones."""
        self.draining = True
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.goaway()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while any(c.streams for c in self.connections) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            for task in list(conn.tasks):
                task.cancel()
            if conn.transport is not None:
                conn.flush()
                conn.transport.close()
        with contextlib.suppress(Exception):
            if self.server is not None:
                await asyncio.wait_for(self.server.wait_closed(), 1)


def listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket; with ``reuse_port`` several processes share the port (the kernel spreads
    the connections among them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024, reuse_port=reuse_port)
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
