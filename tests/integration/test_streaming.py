"""SSE streams are relayed chunk by chunk, and a client disconnect cancels the upstream request."""

from __future__ import annotations

import json
import socket
import time

from conftest import simple_config
from servers import http_json


def test_chunks_arrive_as_generated(start_worker, start_router, engine):
    w = start_worker("m1", "--tokens-per-s", "20", "--reply-tokens", "10")  # ~0.6 s for the whole answer
    r = start_router(simple_config({"m1": [w.url]}), engine=engine)
    import urllib.request

    req = urllib.request.Request(
        r.url + "/v1/chat/completions",
        method="POST",
        data=json.dumps({"model": "auto", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode(),
        headers={"content-type": "application/json"},
    )
    t0 = time.monotonic()
    arrivals = []
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["x-vsr-selected-model"] == "m1"
        for line in resp:
            if line.startswith(b"data: "):
                arrivals.append((time.monotonic() - t0, line))
    assert arrivals[-1][1].strip() == b"data: [DONE]"
    # spread over time, not delivered in one burst at the end
    assert arrivals[-1][0] - arrivals[0][0] > 0.4
    assert arrivals[1][0] < arrivals[-1][0] - 0.3


def test_client_disconnect_cancels_upstream(start_worker, start_router, engine):
    w = start_worker("m1", "--tokens-per-s", "10", "--reply-tokens", "100")  # 10 s if never cancelled
    r = start_router(simple_config({"m1": [w.url]}), engine=engine)
    body = json.dumps({"model": "auto", "stream": True, "messages": [{"role": "user", "content": "long"}]}).encode()
    sock = socket.create_connection(("127.0.0.1", r.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    got = b""
    while got.count(b"data: ") < 3:
        got += sock.recv(65536)
    sock.close()  # the client goes away mid-stream
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        [rec] = w.requests()
        if rec["cancelled"]:
            break
        time.sleep(0.05)
    assert rec["cancelled"] is True and rec["completed"] is False
    # the router released the endpoint and keeps serving
    endpoints = http_json("GET", r.url + "/api/v1/status")[2]["endpoints"]
    assert endpoints[0]["outstanding"] == 0
    assert (
        http_json(
            "POST",
            r.url + "/v1/chat/completions",
            {"model": "auto", "max_tokens": 2, "messages": [{"role": "user", "content": "x"}]},
        )[0]
        == 200
    )


def test_non_stream_disconnect_cancels_upstream(start_worker, start_router, engine):
    w = start_worker("m1", "--latency-ms", "2000")
    r = start_router(simple_config({"m1": [w.url]}), engine=engine)
    body = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "x"}]}).encode()
    sock = socket.create_connection(("127.0.0.1", r.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    time.sleep(0.3)
    sock.close()
    time.sleep(0.3)
    assert http_json("GET", r.url + "/api/v1/status")[2]["endpoints"][0]["outstanding"] == 0


def test_worker_dying_mid_stream_ends_with_an_error_event(start_worker, start_router, engine):
    """The client must learn the answer is incomplete, and promptly: not a hang, not a clean end."""
    import threading

    import openai

    w = start_worker("m1", "--tokens-per-s", "10", "--reply-tokens", "100")
    r = start_router(simple_config({"m1": [w.url]}, pool={"health_check": {"enabled": False}}), engine=engine)
    client = openai.OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0, timeout=10)
    stream = client.chat.completions.create(model="auto", stream=True, messages=[{"role": "user", "content": "x"}])
    threading.Timer(0.8, w.kill).start()
    got = []
    t0 = time.monotonic()
    try:
        for chunk in stream:
            got.append(chunk)
        raise AssertionError("the stream ended as if complete")
    except openai.APIError as exc:
        assert "incomplete" in str(exc)
    assert 2 <= len(got) < 50 and time.monotonic() - t0 < 5
