"""`semrouter demo` starts workers and the router, answers, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import socket

from openai import OpenAI
from servers import Server, free_port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_demo_runs_and_stops(tmp_path):
    port = free_port()
    while any(port_open(port + 10 + i) for i in (1, 2, 3)):
        port = free_port()
    demo = Server(["demo", "--port", str(port)], port, log=tmp_path / "demo.log").start()
    try:
        client = OpenAI(base_url=demo.url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Hello!"}]
        )
        assert raw.headers["x-vsr-selected-model"] == "qwen3-small"
        assert raw.parse().model_extra["echo"]["chat_template_kwargs"] == {"enable_thinking": False}
        large = client.chat.completions.create(model="deepseek-large", messages=[{"role": "user", "content": "x"}])
        assert large.choices[0].message.content.startswith("Answer from deepseek-large")
        assert "curl" in (tmp_path / "demo.log").read_text()
    finally:
        demo.stop(signal.SIGINT)
    assert demo.proc is not None and demo.proc.returncode == 0
    assert not any(port_open(port + 10 + i) for i in (1, 2, 3))  # its workers are gone too
