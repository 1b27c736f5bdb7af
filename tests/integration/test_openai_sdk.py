"""The real openai SDK (sync, async, streaming) through the router to fake workers."""

from __future__ import annotations

import json

import pytest
from conftest import simple_config
from openai import AsyncOpenAI, OpenAI


@pytest.fixture
def routed(start_worker, start_router, engine):
    small = start_worker("qwen-small")
    large = start_worker("deepseek-large")
    cfg = simple_config({"qwen-small": [small.url], "deepseek-large": [large.url]})
    cfg["models"][0]["family"] = "qwen3"
    cfg["models"][1]["family"] = "deepseek"
    cfg["decisions"] = [
        {
            "name": "default",
            "category": "other",
            "models": [{"model": "qwen-small", "score": 0.9}, {"model": "deepseek-large", "score": 0.4}],
            "use_reasoning": False,
            "system_prompt": {"text": "You are terse.", "mode": "insert"},
        }
    ]
    r = start_router(cfg, engine=engine)
    return r, small, large


def test_sync_auto_routes_and_enriches(routed):
    r, small, large = routed
    client = OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "What is 2+2?"}],
        extra_headers={"x-request-id": "req-42"},
    )
    resp = raw.parse()
    assert resp.choices[0].message.content.startswith("Answer from qwen-small")
    h = raw.headers
    assert h["x-vsr-selected-model"] == "qwen-small"
    assert h["x-vsr-selected-decision"] == "default"
    assert h["x-vsr-selected-category"] == "other"
    assert h["x-vsr-selected-reasoning"] == "off"
    assert h["x-vsr-injected-system-prompt"] == "true"
    assert h["x-vsr-destination-endpoint"] == small.url
    assert h["x-request-id"] == "req-42"
    assert "x-vsr-cache-hit" not in h
    echo = json.loads(h["x-fake-worker-echo"])
    assert echo == resp.model_extra["echo"]
    assert echo["model"] == "qwen-small"
    assert echo["system_prompt"] == "You are terse."
    assert echo["chat_template_kwargs"] == {"enable_thinking": False}  # explicit off for qwen3
    assert echo["request_id"] == "req-42"
    assert large.requests() == []


def test_system_prompt_insert_keeps_client_prompt(routed):
    r, small, _ = routed
    client = OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    client.chat.completions.create(
        model="auto",
        messages=[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "hi"}],
    )
    [req] = small.requests()
    assert req["echo"]["system_prompt"] == "You are terse.\n\nAnswer in French."
    assert [m["role"] for m in req["body"]["messages"]] == ["system", "user"]


async def test_async_client_concurrent(routed):
    import asyncio

    r, small, _ = routed
    client = AsyncOpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    results = await asyncio.gather(
        *(
            client.chat.completions.create(model="auto", messages=[{"role": "user", "content": f"question {i}"}])
            for i in range(20)
        )
    )
    assert all(x.choices[0].message.content.startswith("Answer from qwen-small") for x in results)
    assert len(small.requests()) == 20
    await client.close()


def test_streaming_sdk(routed):
    r, small, _ = routed
    client = OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="auto",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "stream it"}],
    ) as raw:
        assert raw.headers["x-vsr-selected-model"] == "qwen-small"
        assert raw.headers["content-type"].startswith("text/event-stream")
        chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Answer from qwen-small:") and text.endswith(" w15")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 16
    [req] = small.requests()
    assert req["stream"] is True and req["completed"] is True


async def test_async_streaming_sdk(routed):
    r, _, _ = routed
    client = AsyncOpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    stream = await client.chat.completions.create(
        model="qwen-small", stream=True, messages=[{"role": "user", "content": "x"}]
    )
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts).startswith("Answer from qwen-small")
    await client.close()


def test_explicit_model_passes_through_untouched(routed):
    r, _, large = routed
    client = OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    body = {"model": "deepseek-large", "messages": [{"role": "user", "content": "raw"}], "temperature": 0.3}
    raw = client.chat.completions.with_raw_response.create(**body)
    assert raw.headers["x-vsr-selected-model"] == "deepseek-large"
    assert raw.headers["x-vsr-injected-system-prompt"] == "false"
    [req] = large.requests()
    assert req["body"] == body  # no system prompt, no reasoning fields, nothing added


def test_models_list(routed):
    r, _, _ = routed
    client = OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    assert [m.id for m in client.models.list()] == ["auto", "qwen-small", "deepseek-large"]


def test_completions_and_embeddings_pass_through(routed):
    r, small, large = routed
    client = OpenAI(base_url=r.url + "/v1", api_key="k", max_retries=0)
    c = client.completions.create(model="deepseek-large", prompt="Once upon", max_tokens=4)
    assert c.choices[0].text.startswith("Answer from deepseek-large")
    e = client.embeddings.create(model="qwen-small", input=["a", "b"])
    assert len(e.data) == 2 and len(e.data[0].embedding) == 8
    assert [q["path"] for q in large.requests()] == ["/v1/completions"]
    assert [q["path"] for q in small.requests()] == ["/v1/embeddings"]
