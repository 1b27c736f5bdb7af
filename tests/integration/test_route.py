"""Dry-run routing: `semrouter route` over JSONL, `POST /api/v1/route`, and tool selection end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servers import http_json, write_config

from semrouter.config.loader import DEFAULT_CONFIG

ROUTE_KEYS = {
    "decision",
    "category",
    "category_confidence",
    "language",
    "model",
    "reasoning",
    "reasoning_effort",
    "system_prompt_injected",
    "tools",
    "signals",
    "jailbreak",
    "safety",
    "pii",
    "blocked",
    "block_reason",
    "latency_ms",
}
MATH_Q = "What is the integral of x^2 from 0 to 3?"
URGENT_Q = "URGENT: my laptop will not turn on, help asap"
PLAIN_Q = "Can you recommend a good novel to read on holiday?"


def tool(name: str, description: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {}}}


TOOLS = [
    tool("send_email", "Send an email message to a recipient"),
    tool("get_weather", "Get the current weather forecast for a city"),
    tool("search_flights", "Search for airline flights between two airports"),
    tool("get_stock_price", "Current stock market price for a ticker symbol"),
]


def config(small: str = "http://127.0.0.1:9", large: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """Keyword + domain + header signals; math → large model with reasoning, urgent → small, else general."""
    return {
        "models": [
            {"name": "small", "family": "qwen3", "endpoints": [{"url": small}]},
            {"name": "large", "family": "qwen3", "endpoints": [{"url": large}]},
        ],
        "routing": {"default_decision": "general"},
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "signals": [
            {"name": "urgent", "type": "keyword", "keywords": ["urgent", "asap"]},
            {"name": "domain", "type": "domain"},
            {"name": "tier", "type": "header", "header": "x-tier", "equals": "premium"},
        ],
        "decisions": [
            {
                "name": "math",
                "rules": {"signal": "domain", "equals": "math"},
                "models": [{"model": "large"}],
                "use_reasoning": True,
                "reasoning_effort": "high",
                "system_prompt": {"text": "You are a mathematician."},
            },
            {"name": "urgent", "priority": 10, "rules": {"signal": "urgent"}, "models": [{"model": "small"}]},
            {"name": "premium", "priority": 20, "rules": {"signal": "tier"}, "models": [{"model": "large"}]},
            {
                "name": "general",
                "models": [{"model": "small"}],
                "tools": {"top_k": 2, "threshold": 0.25},
            },
        ],
    }


def route_cli(tmp_path: Path, items: list[Any], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join((json.dumps(i) if not isinstance(i, str) else i) + "\n" for i in items))
    proc = subprocess.run(
        [sys.executable, "-m", "semrouter", "route", *args, "--input", str(inp), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [json.loads(ln) for ln in out.read_text().splitlines()] if out.exists() else []
    return proc.returncode, lines, proc.stderr


def test_cli_routes_jsonl(tmp_path):
    cfg = write_config(tmp_path / "router.yaml", config())
    items = [
        {"id": "m", "text": MATH_Q},
        {"id": "u", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": URGENT_Q}]},
        {"id": "g", "text": PLAIN_Q, "extra": 7},
        {"id": "t", "text": "Will it rain in Berlin this weekend?", "tools": TOOLS},
    ]
    rc, out, stderr = route_cli(tmp_path, items, "--config", str(cfg))
    assert rc == 0, stderr
    assert "routing" in stderr and "4/4" in stderr  # the progress bar
    assert [o["id"] for o in out] == ["m", "u", "g", "t"]
    for item, line in zip(items, out, strict=True):
        assert {k: v for k, v in line.items() if k != "route"} == item  # the input, untouched
        route = line["route"]
        assert set(route) == ROUTE_KEYS
        assert route["jailbreak"] == {"detected": False, "score": None, "type": None}
        assert route["safety"] == {"detected": False, "category": None, "score": None}  # guard off
        assert route["pii"] == {"detected": False, "entities": []}
        assert route["blocked"] is False and route["block_reason"] is None
        assert set(route["signals"]) >= {"urgent", "domain", "tier"}
        assert route["category_confidence"] == route["signals"]["domain"]["confidence"]
        assert 0 < route["latency_ms"] < 5000
    m, u, g, t = (o["route"] for o in out)
    assert (m["decision"], m["model"], m["category"]) == ("math", "large", "math")
    assert m["category_confidence"] > 0.5
    assert (m["reasoning"], m["reasoning_effort"], m["system_prompt_injected"]) == (True, "high", True)
    assert (u["decision"], u["model"], u["reasoning"], u["reasoning_effort"]) == ("urgent", "small", False, None)
    assert u["signals"]["urgent"]["matched"] is True and u["signals"]["urgent"]["detail"]["keywords"] == [
        "urgent",
        "asap",
    ]
    assert (g["decision"], g["model"], g["system_prompt_injected"], g["tools"]) == ("general", "small", False, None)
    assert t["decision"] == "general" and t["tools"] == ["get_weather"]
    assert t["signals"]["tool_selection"]["detail"]["scores"]["get_weather"] >= 0.25


def test_cli_reports_bad_lines_and_blocked_requests(tmp_path):
    cfg = write_config(tmp_path / "router.yaml", config())
    items: list[Any] = ['{"id": "broken', {"id": "nothing"}, {"id": "ok", "text": PLAIN_Q}]
    rc, out, stderr = route_cli(tmp_path, items, "--config", str(cfg), "--no-progress")
    assert rc == 1 and "2 line(s)" in stderr and "routing" not in stderr
    assert out[0]["line"] == 1 and "error" in out[0] and "route" not in out[0]
    assert out[1]["id"] == "nothing" and out[1]["error"]["type"] == "invalid_request_error"
    assert out[2]["route"]["decision"] == "general"


@pytest.mark.skipif(not DEFAULT_CONFIG.exists(), reason="the built-in config is not there yet")
def test_cli_uses_the_builtin_config_by_default(tmp_path):
    rc, out, stderr = route_cli(tmp_path, [{"id": 1, "text": MATH_Q}], "--no-progress")
    assert rc == 0, stderr
    assert out[0]["route"]["category"] == "math" and out[0]["route"]["reasoning"] is True


def test_route_api(start_router):
    r = start_router(config())
    url = r.url + "/api/v1/route"
    status, _, body = http_json("POST", url, {"text": MATH_Q})
    assert status == 200 and set(body) == ROUTE_KEYS
    assert (body["decision"], body["model"], body["reasoning"]) == ("math", "large", True)
    status, _, body = http_json("POST", url, {"messages": [{"role": "user", "content": URGENT_Q}]})
    assert status == 200 and body["decision"] == "urgent"
    status, _, body = http_json("POST", url, {"text": URGENT_Q, "headers": {"X-Tier": "premium"}})
    assert status == 200 and (body["decision"], body["model"]) == ("premium", "large")
    status, _, body = http_json("POST", url, {"text": PLAIN_Q, "tools": TOOLS})
    assert status == 200 and body["tools"] == []  # nothing about the request needs a tool

    for bad, code in [
        (b"{not json", "invalid_json"),
        ([1, 2], "invalid_body"),
        ({"id": 1}, "invalid_request"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "invalid_value"),
        ({"text": "x", "headers": {"x-tier": 3}}, "invalid_request"),
    ]:
        status, _, err = http_json("POST", url, bad)
        assert status == 400, (bad, err)
        assert set(err["error"]) == {"message", "type", "param", "code"} and err["error"]["code"] == code
    status, _, _ = http_json("GET", url)
    assert status == 404


def test_tools_trimmed_end_to_end(start_worker, start_router):
    w = start_worker("small")
    r = start_router(config(small=w.url, large=w.url))
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": "What's the weather forecast for Paris tomorrow?"}],
        "tools": TOOLS,
        "tool_choice": "auto",
    }
    status, headers, answer = http_json("POST", r.url + "/v1/chat/completions", body)
    assert status == 200, answer
    assert headers["x-vsr-selected-decision"] == "general"
    assert headers["x-vsr-tools-selected"] == "get_weather"
    assert answer["echo"]["tools"] == ["get_weather"]  # what the worker actually received

    body["messages"] = [{"role": "user", "content": MATH_Q}]  # the math decision has no tool selection
    status, headers, answer = http_json("POST", r.url + "/v1/chat/completions", body)
    assert status == 200 and "x-vsr-tools-selected" not in headers
    assert answer["echo"]["tools"] == [t["function"]["name"] for t in TOOLS]
