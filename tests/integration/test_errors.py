"""Every client mistake and upstream failure answers with an OpenAI-style error and the right status."""

from __future__ import annotations

import time
import urllib.request

import pytest
from conftest import simple_config
from servers import free_port, http_json


@pytest.fixture
def router_url(start_worker, start_router):
    w = start_worker("m1")
    cfg = simple_config({"m1": [w.url]}, server={"max_body_bytes": 2048})
    return start_router(cfg).url


def post_raw(url: str, data: bytes, ctype: str | None = "application/json"):
    headers = {"content-type": ctype} if ctype else {}
    req = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def assert_error(status, body, want_status, want_code, param=None):
    import json

    assert status == want_status, body
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == want_code and err["message"]
    if param:
        assert err["param"] == param
    return err


CHAT = "/v1/chat/completions"


@pytest.mark.parametrize(
    ("payload", "code", "param"),
    [
        (b'{"model": "auto", "messages": [', "invalid_json", None),
        (b"[1, 2]", "invalid_body", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "missing_required_parameter", "model"),
        (b'{"model": "auto"}', "missing_required_parameter", "messages"),
        (b'{"model": "auto", "messages": "hello"}', "invalid_type", "messages"),
        (b'{"model": "auto", "messages": []}', "invalid_value", "messages"),
        (
            b'{"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}',
            "invalid_value",
            "messages[0].role",
        ),
        (
            b'{"model": "auto", "messages": [{"role": "user", "content": 5}]}',
            "invalid_type",
            "messages[0].content",
        ),
        (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "invalid_type", "model"),
        (
            b'{"model": "auto", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}',
            "invalid_type",
            "stream",
        ),
        (
            b'{"model": "auto", "max_tokens": 1.5, "messages": [{"role": "user", "content": "x"}]}',
            "invalid_type",
            "max_tokens",
        ),
        (
            b'{"model": "auto", "temperature": "hot", "messages": [{"role": "user", "content": "x"}]}',
            "invalid_type",
            "temperature",
        ),
        (
            b'{"model": "auto", "tools": {}, "messages": [{"role": "user", "content": "x"}]}',
            "invalid_type",
            "tools",
        ),
    ],
)
def test_bad_requests_are_400(router_url, payload, code, param):
    status, body = post_raw(router_url + CHAT, payload)
    assert_error(status, body, 400, code, param)


def test_unknown_model_404_lists_valid_names(router_url):
    status, body = post_raw(router_url + CHAT, b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}')
    err = assert_error(status, body, 404, "model_not_found", "model")
    assert "gpt-9" in err["message"] and "auto" in err["message"] and "m1" in err["message"]


def test_body_over_limit_413(router_url):
    big = b'{"model": "auto", "messages": [{"role": "user", "content": "' + b"x" * 4000 + b'"}]}'
    assert_error(*post_raw(router_url + CHAT, big), 413, "request_too_large")


def test_unsupported_content_type_415(router_url):
    assert_error(
        *post_raw(router_url + CHAT, b"model=auto", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )


def test_wrong_method_and_path(router_url):
    status, _, body = http_json("GET", router_url + CHAT)
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    status, _, body = http_json("GET", router_url + "/v2/nothing")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_explicit_models_denied(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(simple_config({"m1": [w.url]}, routing={"explicit_models": "deny"}))
    status, _, body = http_json("POST", r.url + CHAT, {"model": "m1", "messages": [{"role": "user", "content": "x"}]})
    assert status == 403 and body["error"]["code"] == "explicit_model_not_allowed"
    status, _, body = http_json("POST", r.url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    assert status == 200


def test_upstream_timeout_504(start_worker, start_router):
    slow = start_worker("m1", "--latency-ms", "3000")
    r = start_router(simple_config({"m1": [slow.url]}, pool={"timeout_s": 0.5}))
    status, headers, body = http_json(
        "POST", r.url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": "x"}]}
    )
    assert status == 504 and body["error"]["code"] == "upstream_timeout"
    assert headers["x-vsr-selected-model"] == "m1"


def test_no_healthy_endpoint_503(start_router):
    dead = f"http://127.0.0.1:{free_port()}"
    r = start_router(simple_config({"m1": [dead]}, pool={"max_retries": 1}))
    status, _, body = http_json("POST", r.url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    assert status == 503 and body["error"]["code"] == "no_healthy_endpoint"
    deadline = time.monotonic() + 10  # active health checks (every 0.5 s, 2 failures) mark it down
    while (ready := http_json("GET", r.url + "/ready"))[0] != 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ready[0] == 503 and ready[2] == {"ready": False, "starting": False, "available_endpoints": {"m1": 0}}


def test_worker_errors_pass_through_with_status(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(simple_config({"m1": [w.url]}, pool={"max_retries": 0}))
    status, headers, body = http_json(
        "POST",
        r.url + CHAT,
        {"model": "auto", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-fake-status": "429"},
    )
    assert status == 429 and body["error"]["message"] == "fake worker failure"
    assert headers["x-vsr-selected-model"] == "m1"


def test_broken_upstream_http_is_502(start_router):
    """A worker that answers with garbage gets an OpenAI-style 502, not a 500 or a hang."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        cfg = simple_config({"m1": [f"http://127.0.0.1:{port}"]}, pool={"health_check": {"enabled": False}})
        r = start_router(cfg)
        status, _, body = http_json(
            "POST", r.url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": "x"}]}
        )
        assert status == 502 and body["error"]["code"] == "upstream_error"
    finally:
        srv.close()


def test_unusual_tool_names_cannot_break_headers(start_worker, start_router):
    """Client-chosen tool names end up in x-vsr-tools-selected: non-Latin text and CR/LF are encoded."""
    w = start_worker("m1")
    cfg = simple_config({"m1": [w.url]})
    cfg["decisions"][0]["tools"] = {"top_k": 5, "threshold": -1.0}
    r = start_router(cfg)
    tools = [
        {"type": "function", "function": {"name": name, "description": "search the web"}}
        for name in ("搜索", "a\r\nset-cookie: x=1", "plain")
    ]
    status, headers, body = http_json(
        "POST", r.url + CHAT, {"model": "auto", "tools": tools, "messages": [{"role": "user", "content": "search"}]}
    )
    assert status == 200, body
    assert "set-cookie" not in headers
    selected = headers["x-vsr-tools-selected"]
    assert "%E6%90%9C%E7%B4%A2" in selected and "%0D%0Aset-cookie" in selected and "plain" in selected


def test_auto_on_embeddings_is_400(router_url):
    status, _, body = http_json("POST", router_url + "/v1/embeddings", {"model": "auto", "input": "x"})
    assert status == 400 and body["error"]["code"] == "model_not_routable"
