"""semrouter's own HTTP/2 gRPC server (semrouter.adapters.extproc_h2) against grpcio's client on loopback:
another implementation than Envoy's, so framing, HPACK, flow control and stream ends are checked against a
second reading of the protocol (the Envoy tests in test_extproc.py run the same server behind Envoy)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from semrouter.adapters import extproc_h2 as h2
from semrouter.adapters.extproc import Health


class Echo:
    """A bidirectional method answering each message with itself, and recording how streams ended."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    async def chat(self, stream: h2.Stream) -> None:
        try:
            while (data := await stream.next()) is not None:
                await stream.conn.send(stream, data)
            self.ended.append("closed")
        except h2.StreamReset:
            self.ended.append("reset")
            raise

    async def slow(self, stream: h2.Stream) -> None:
        data = await stream.next()
        await asyncio.sleep(0.3)
        await stream.conn.send(stream, data or b"")


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Echo, Health, h2.GrpcServer]]:
    echo, status = Echo(), Health()
    server = h2.GrpcServer(
        {
            "/test.Echo/Chat": echo.chat,
            "/test.Echo/Slow": echo.slow,
            "/grpc.health.v1.Health/Check": status.check,
            "/grpc.health.v1.Health/Watch": status.watch,
        }
    )
    sock = h2.listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    await server.start(sock)
    try:
        yield f"127.0.0.1:{port}", echo, status, server
    finally:
        await server.stop(0.5)


def _raw(channel: grpc.aio.Channel, method: str) -> grpc.aio.StreamStreamMultiCallable:
    return channel.stream_stream(method, request_serializer=None, response_deserializer=None)


async def test_health_says_what_it_was_told(served: tuple[str, Echo, Health, h2.GrpcServer]) -> None:
    addr, _echo, status, _server = served
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        status.set(health_pb2.HealthCheckResponse.SERVING)
        name = "envoy.service.ext_proc.v3.ExternalProcessor"
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=2)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_watch_sends_the_status_then_each_change(served: tuple[str, Echo, Health, h2.GrpcServer]) -> None:
    addr, _echo, status, _server = served
    async with grpc.aio.insecure_channel(addr) as channel:
        call = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
        first = await call.read()
        assert first.status == health_pb2.HealthCheckResponse.NOT_SERVING
        status.set(health_pb2.HealthCheckResponse.SERVING)
        second = await call.read()
        assert second.status == health_pb2.HealthCheckResponse.SERVING
        call.cancel()


async def test_messages_of_every_size_come_back_whole(served: tuple[str, Echo, Health, h2.GrpcServer]) -> None:
    """Small messages, one split over many frames, one larger than the client's first flow-control window
    (64 KiB): the server must wait for WINDOW_UPDATEs instead of overrunning it."""
    addr, echo, _status, _server = served
    sizes = [0, 1, 100, 16_384, 70_000, 1_000_000, 3]
    messages = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    async with grpc.aio.insecure_channel(addr) as channel:
        call = _raw(channel, "/test.Echo/Chat")(timeout=10)
        for msg in messages:
            await call.write(msg)
            assert await call.read() == msg
        await call.done_writing()
        assert await call.read() == grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK
    assert echo.ended == ["closed"]


async def test_many_concurrent_streams_on_one_connection(served: tuple[str, Echo, Health, h2.GrpcServer]) -> None:
    addr, echo, _status, _server = served
    async with grpc.aio.insecure_channel(addr) as channel:

        async def one(i: int) -> bytes:
            call = _raw(channel, "/test.Echo/Chat")(timeout=10)
            await call.write(str(i).encode())
            got = await call.read()
            await call.done_writing()
            assert await call.code() == grpc.StatusCode.OK
            return bytes(got)

        got = await asyncio.gather(*(one(i) for i in range(200)))
    assert got == [str(i).encode() for i in range(200)]
    assert echo.ended == ["closed"] * 200


async def test_a_message_over_the_bound_ends_the_call_before_it_is_buffered(
    served: tuple[str, Echo, Health, h2.GrpcServer],
) -> None:
    """The receive windows are wide open, so the message bound is what limits one call's memory: a
    message announced larger than it ends the call with RESOURCE_EXHAUSTED; the connection stays usable."""
    addr, _echo, _status, server = served
    server.max_message = 100_000
    async with grpc.aio.insecure_channel(addr) as channel:
        call = _raw(channel, "/test.Echo/Chat")(timeout=5)
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await call.write(b"x" * 100_001)
        assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        ok = _raw(channel, "/test.Echo/Chat")(timeout=5)
        await ok.write(b"x" * 100_000)
        assert await ok.read() == b"x" * 100_000
        await ok.done_writing()
        assert await ok.code() == grpc.StatusCode.OK


async def test_unknown_method_is_unimplemented(served: tuple[str, Echo, Health, h2.GrpcServer]) -> None:
    addr, _echo, _status, _server = served
    async with grpc.aio.insecure_channel(addr) as channel:
        call = _raw(channel, "/test.Echo/Nope")(timeout=2)
        assert await call.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "/test.Echo/Nope" in (await call.details() or "")


async def test_a_cancelled_call_ends_the_handler_as_reset(served: tuple[str, Echo, Health, h2.GrpcServer]) -> None:
    addr, echo, _status, _server = served
    async with grpc.aio.insecure_channel(addr) as channel:
        call = _raw(channel, "/test.Echo/Chat")(timeout=10)
        await call.write(b"a")
        assert await call.read() == b"a"
        call.cancel()
        for _ in range(100):
            if echo.ended:
                break
            await asyncio.sleep(0.01)
    assert echo.ended == ["reset"]


async def test_stop_lets_the_call_in_flight_finish_and_refuses_new_ones(
    served: tuple[str, Echo, Health, h2.GrpcServer],
) -> None:
    addr, _echo, _status, server = served
    async with grpc.aio.insecure_channel(addr) as channel:
        call = _raw(channel, "/test.Echo/Slow")(timeout=5)
        await call.write(b"in flight")
        await asyncio.sleep(0.1)  # the server has the message and sleeps
        stopping = asyncio.get_running_loop().create_task(server.stop(2))
        assert await call.read() == b"in flight"
        assert await call.code() == grpc.StatusCode.OK
        await stopping
        late = _raw(channel, "/test.Echo/Chat")(timeout=1)
        assert await late.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@pytest.mark.parametrize("server", ["native", "grpcio"])
def test_both_grpc_servers_serve_the_processor_and_skip_an_unread_answer(tmp_path: Path, server: str) -> None:
    """``semrouter extproc --grpc-server native|grpcio``: health SERVING once ready, a request's two phases
    answered (the headers' mode override skips the answer's headers phase, since nothing reads answers in
    this config; the body's answer carries the x-vsr-* headers as dynamic metadata), and SIGTERM ends the
    process cleanly."""
    from envoy.config.core.v3 import base_pb2
    from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
    from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
    from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
    from gateway import ExtProc

    cfg = tmp_path / "router.yaml"
    cfg.write_text(
        "models: [{name: m, endpoints: [{url: 'http://127.0.0.1:9'}]}]\n"
        "decisions: [{name: default, models: [{model: m}]}]\nreload: {enabled: false}\n"
    )
    proc = ExtProc(cfg, None, tmp_path / "extproc.log", "--grpc-server", server).start()
    try:
        assert proc.health() == "SERVING"
        pairs = [(":method", "POST"), (":path", "/v1/chat/completions"), ("content-type", "application/json")]
        headers = base_pb2.HeaderMap(headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs])
        body = b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}'
        messages = [
            pb.ProcessingRequest(request_headers=pb.HttpHeaders(headers=headers)),
            pb.ProcessingRequest(request_body=pb.HttpBody(body=body, end_of_stream=True)),
        ]
        with grpc.insecure_channel(f"127.0.0.1:{proc.port}") as channel:
            first, second = pb_grpc.ExternalProcessorStub(channel).Process(iter(messages), timeout=10)
        assert first.mode_override.response_header_mode == processing_mode_pb2.ProcessingMode.SKIP
        assert first.mode_override.request_body_mode == processing_mode_pb2.ProcessingMode.BUFFERED
        mutation = {h.header.key: h.header.raw_value for h in second.request_body.response.header_mutation.set_headers}
        assert mutation["x-selected-model"] == b"m" and second.request_body.response.clear_route_cache
        shown = dict(second.dynamic_metadata.fields["semrouter"].struct_value)
        assert shown["x-vsr-selected-model"] == "m" and shown["x-vsr-selected-decision"] == "default"
        assert shown["x-request-id"] == mutation["x-request-id"].decode()
    finally:
        proc.stop(grace_s=15)
    assert proc.proc is not None and proc.proc.returncode == 0
