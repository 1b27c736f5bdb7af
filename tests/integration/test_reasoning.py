"""Each reasoning dialect as the worker receives it (via the fake worker's echo)."""

from __future__ import annotations

import pytest
from conftest import simple_config
from servers import http_json

FAMILIES = ["qwen3", "deepseek", "gpt-oss", "openai"]


@pytest.fixture
def router(start_worker, start_router):
    w = start_worker("any")
    cfg = simple_config({f"m-{f}": [w.url] for f in FAMILIES})
    for m, f in zip(cfg["models"], FAMILIES, strict=True):
        m["family"] = f
    cfg["signals"] = [
        {"name": f"{f}-{mode}", "type": "keyword", "keywords": [f"{f}-{mode}"]}
        for f in FAMILIES
        for mode in ("on", "off")
    ]
    cfg["decisions"] = [{"name": "default", "models": [{"model": "m-qwen3"}]}] + [
        {
            "name": f"{f}-{mode}",
            "rules": {"signal": f"{f}-{mode}"},
            "models": [{"model": f"m-{f}"}],
            "use_reasoning": mode == "on",
            "reasoning_effort": "high",
        }
        for f in FAMILIES
        for mode in ("on", "off")
    ]
    return start_router(cfg), cfg


def send(url: str, text: str, **extra):
    status, headers, body = http_json(
        "POST",
        url + "/v1/chat/completions",
        {"model": "auto", "messages": [{"role": "user", "content": text}], **extra},
    )
    assert status == 200, body
    return headers, body["echo"], body


@pytest.mark.parametrize(
    ("family", "mode", "kwargs", "effort"),
    [
        ("qwen3", "on", {"enable_thinking": True}, None),
        ("qwen3", "off", {"enable_thinking": False}, None),  # explicit off: qwen3 templates think by default
        ("deepseek", "on", {"thinking": True}, None),
        ("deepseek", "off", {"thinking": False}, None),
        ("gpt-oss", "on", None, "high"),
        ("gpt-oss", "off", None, "low"),  # gpt-oss cannot switch reasoning off: lowest effort
        ("openai", "on", None, "high"),
        ("openai", "off", None, None),
    ],
)
def test_dialects(router, family, mode, kwargs, effort):
    r, _ = router
    headers, echo, body = send(r.url, f"please {family}-{mode} now")
    assert headers["x-vsr-selected-decision"] == f"{family}-{mode}"
    assert headers["x-vsr-selected-reasoning"] == mode
    assert echo["chat_template_kwargs"] == kwargs
    assert echo["reasoning_effort"] == effort
    # the fake worker thinks when asked to, so the answer shows what the model did
    assert ("reasoning_content" in body["choices"][0]["message"]) == (mode == "on")


def test_client_reasoning_fields_overridden_by_default(router):
    r, _ = router
    _, echo, _ = send(r.url, "qwen3-off please", chat_template_kwargs={"enable_thinking": True, "other": 1})
    assert echo["chat_template_kwargs"] == {"enable_thinking": False, "other": 1}


def test_client_reasoning_fields_respected_when_configured(start_worker, start_router):
    w = start_worker("m")
    cfg = simple_config({"m": [w.url]}, reasoning={"client_fields": "respect"})
    cfg["models"][0]["family"] = "qwen3"
    r = start_router(cfg)
    headers, echo, _ = send(r.url, "hello", chat_template_kwargs={"enable_thinking": True})
    assert echo["chat_template_kwargs"] == {"enable_thinking": True}
    assert headers["x-vsr-selected-reasoning"] == "on"  # the header tells what the worker was asked
    headers, echo, _ = send(r.url, "hello")
    assert echo["chat_template_kwargs"] == {"enable_thinking": False}
    assert headers["x-vsr-selected-reasoning"] == "off"
