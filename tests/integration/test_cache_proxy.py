"""The semantic cache through the real proxy: fake workers and the router as processes on loopback.

Whether the worker was called is read from the worker's own request log, so "hit" means "answered
without the worker", not just "the header says so". Stores happen after the answer reached the client
(in the background), so tests wait for the cache's counters instead of sleeping.

The core behaviours (streamed and JSON answers stored and replayed either way, nothing kept from a cut
stream or an error, tenant and conversation isolation) run against both backends: ``memory`` and
``milvus`` on an embedded Milvus Lite file (the ``backend`` fixture).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import simple_config
from openai import OpenAI
from servers import Server, http_json, write_config

TOKEN_ENV = "SEMROUTER_TEST_ADMIN_TOKEN"


def cache_config(url: str, *, cache: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    return simple_config({"m1": [url]}, cache={"enabled": True, **(cache or {})}, **overrides)


@pytest.fixture(params=["memory", "milvus"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Cache settings selecting the backend under test; Milvus Lite gets a fresh file per test."""
    if request.param == "memory":
        return {}
    pytest.importorskip("pymilvus", reason="pymilvus not installed (pip install -e '.[milvus]')")
    pytest.importorskip("milvus_lite", reason="milvus-lite not installed")
    # a generous deadline: Milvus Lite RPCs take a few ms, but this machine's CPU is shared with the test run
    return {"backend": "milvus", "timeout_s": 2.0, "milvus": {"uri": str(tmp_path / "cache.db")}}


def cached_router(start_router: Callable[..., Server], config: dict[str, Any], **kw: Any) -> Server:
    """A router whose cache backend finished starting (Milvus connects in the background; a request that
    came earlier would bypass the cache, which other tests check)."""
    r = start_router(config, **kw)
    wait_backend(r, lambda b: not b.get("starting", False))
    return r


def chat(
    r: Server,
    text: str,
    *,
    headers: dict[str, str] | None = None,
    messages: list[dict[str, Any]] | None = None,
    model: str = "auto",
    **extra: Any,
) -> tuple[int, dict[str, str], Any]:
    body = {"model": model, "messages": (messages or []) + [{"role": "user", "content": text}], **extra}
    return http_json("POST", r.url + "/v1/chat/completions", body, headers)


def chat_stream(
    r: Server, text: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> tuple[dict[str, str], bytes]:
    body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": text}], **extra}
    req = urllib.request.Request(
        r.url + "/v1/chat/completions",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return {k.lower(): v for k, v in resp.headers.items()}, resp.read()


def sse_payloads(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data: "):
            data = line[6:].strip()
            out.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return out


def streamed_text(raw: bytes, field: str = "content") -> str:
    payloads = [p for p in sse_payloads(raw) if p != "[DONE]"]
    return "".join(p["choices"][0]["delta"].get(field) or "" for p in payloads if p["choices"])


def stats(r: Server) -> dict[str, Any]:
    status, _, body = http_json("GET", r.url + "/api/v1/cache/stats")
    assert status == 200
    return body  # type: ignore[no-any-return]


def wait_stage(r: Server, check: Any, timeout: float = 5.0) -> dict[str, Any]:
    """Poll the stage counters until ``check(stage)`` holds (stores and skips happen after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        stage = stats(r)["stage"]
        if check(stage) or time.monotonic() > deadline:
            assert check(stage), stage
            return stage  # type: ignore[no-any-return]
        time.sleep(0.02)


def wait_backend(r: Server, check: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not check(backend := stats(r)["backend"]):
        assert time.monotonic() < deadline, backend
        time.sleep(0.05)
    return backend  # type: ignore[no-any-return]


def stored(r: Server, n: int) -> dict[str, Any]:
    return wait_stage(r, lambda s: s["stores"] >= n)


def skipped(r: Server, reason: str, n: int = 1) -> dict[str, Any]:
    return wait_stage(r, lambda s: s["store_skips"].get(reason, 0) >= n)


def upstream_calls(w: Server) -> int:
    return len(w.requests())


def content(body: Any) -> str:
    return str(body["choices"][0]["message"]["content"])


def test_miss_then_hit_with_headers_and_a_fresh_answer(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    q = "What is cognitive dissonance?"
    status, h, first = chat(r, q, headers={"x-fake-reply": "A mental conflict."})
    assert status == 200 and h["x-vsr-cache-hit"] == "false" and "x-vsr-cache-similarity" not in h
    stored(r, 1)
    status, h, again = chat(r, q)
    assert status == 200 and h["x-vsr-cache-hit"] == "true" and h["x-vsr-cache-similarity"] == "1.0000"
    assert h["x-vsr-selected-model"] == "m1" and h["x-vsr-selected-decision"] == "default"
    assert content(again) == content(first) == "A mental conflict."
    assert again["id"] != first["id"] and again["model"] == "m1" and again["object"] == "chat.completion"
    assert again["usage"] == first["usage"]
    # a paraphrase hits too, with its real similarity
    status, h, para = chat(r, "What does cognitive dissonance mean?")
    assert h["x-vsr-cache-hit"] == "true" and 0.9 <= float(h["x-vsr-cache-similarity"]) < 1.0
    assert content(para) == "A mental conflict."
    assert upstream_calls(w) == 1
    stage = stats(r)["stage"]
    assert stage["hits"] == 2 and stage["misses"] == 1 and stage["stores"] == 1 and stage["faults"] == 0


def test_flipped_operation_is_a_miss_refused_by_the_verifier(start_worker, start_router, backend):
    """ "turn off" must not get the stored "turn on" answer (vSR #2691), on either backend: cosine 0.94, so
    only the verifier stands between the request and the wrong answer."""
    w = start_worker("m1")
    r = cached_router(start_router, cache_config(w.url, cache=backend))
    chat(r, "How do I turn on dark mode in Outlook?", headers={"x-fake-reply": "Settings > Theme > Dark."})
    stored(r, 1)
    _, h, body = chat(r, "How do I turn off dark mode in Outlook?", headers={"x-fake-reply": "Theme > Light."})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "Theme > Light."
    stage = stats(r)["stage"]
    assert stage["verifier_rejections"] == 1 and stage["near_misses"] == 1 and stage["hits"] == 0
    # the same question reworded is served, and says why
    _, h, body = chat(r, "how do i turn on dark mode in outlook")
    assert h["x-vsr-cache-hit"] == "true" and content(body) == "Settings > Theme > Dark."
    assert float(h["x-vsr-cache-similarity"]) > 0.9 and float(h["x-vsr-cache-verifier"]) >= 0.5
    assert upstream_calls(w) == 2


def polite_config(url: str, *, polite_prompt: str, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Two decisions that pick the same model; "please" routes to the second. Same system prompt: the
    same effective request; another prompt: another answer."""
    cfg = cache_config(url, cache=cache)
    cfg["signals"] = [{"name": "polite", "type": "keyword", "keywords": ["please"]}]
    cfg["decisions"] = [
        {"name": "default", "models": [{"model": "m1"}], "system_prompt": {"text": "Be concise."}},
        {
            "name": "polite",
            "models": [{"model": "m1"}],
            "rules": {"signal": "polite"},
            "system_prompt": {"text": polite_prompt},
            "priority": 1,
        },
    ]
    return cfg


def test_paraphrase_routed_to_another_decision_with_the_same_effect_hits(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(polite_config(w.url, polite_prompt="Be concise."))
    _, h, _ = chat(r, "Please, what is cognitive dissonance?", headers={"x-fake-reply": "A mental conflict."})
    assert h["x-vsr-selected-decision"] == "polite"
    stored(r, 1)
    _, h, para = chat(r, "What does cognitive dissonance mean?")
    assert h["x-vsr-selected-decision"] == "default" and h["x-vsr-cache-hit"] == "true"
    assert content(para) == "A mental conflict." and upstream_calls(w) == 1
    # another tenant never sees it, paraphrase or not
    _, h, _ = chat(r, "What does cognitive dissonance mean?", headers={"x-tenant-id": "other"})
    assert h["x-vsr-cache-hit"] == "false" and upstream_calls(w) == 2


def test_another_decision_with_another_system_prompt_never_shares(start_worker, start_router):
    """With following off (``cache.follow.enabled: false``), the old behaviour: entries stay per effect."""
    w = start_worker("m1")
    r = start_router(polite_config(w.url, polite_prompt="Answer like a pirate.", cache={"follow": {"enabled": False}}))
    chat(r, "Please, what is cognitive dissonance?", headers={"x-fake-reply": "Arr, a conflict."})
    stored(r, 1)
    _, h, body = chat(r, "What does cognitive dissonance mean?", headers={"x-fake-reply": "A mental conflict."})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "A mental conflict."


def test_decisions_keyed_by_name_never_share(start_worker, start_router):
    """``cross_decision: false`` (following off): even two decisions with the same effect keep their entries
    apart."""
    w = start_worker("m1")
    cache = {"cross_decision": False, "follow": {"enabled": False}}
    r = start_router(polite_config(w.url, polite_prompt="Be concise.", cache=cache))
    chat(r, "Please, what is cognitive dissonance?")
    stored(r, 1)
    assert chat(r, "What does cognitive dissonance mean?")[1]["x-vsr-cache-hit"] == "false"
    assert upstream_calls(w) == 2


def follow_config(w1: str, w2: str, backend: dict[str, Any] | None = None) -> dict[str, Any]:
    """Two decisions with different effects (model, system prompt): "please" routes to ``polite`` on m2, the
    rest to ``default`` on m1, the split a semantic signal makes between two decisions, made deterministic."""
    cfg = simple_config({"m1": [w1], "m2": [w2]}, cache={"enabled": True, **(backend or {})})
    cfg["signals"] = [{"name": "polite", "type": "keyword", "keywords": ["please"]}]
    cfg["decisions"] = [
        {"name": "default", "models": [{"model": "m1"}], "system_prompt": {"text": "Be concise."}},
        {
            "name": "polite",
            "models": [{"model": "m2"}],
            "rules": {"signal": "polite"},
            "system_prompt": {"text": "Answer like a pirate."},
            "priority": 1,
        },
    ]
    return cfg


def test_paraphrase_routed_to_another_decision_follows_the_verified_duplicate(start_worker, start_router, backend):
    """Stored under ``polite`` (m2, pirate prompt); the paraphrase is routed to ``default`` (m1) and adopts
    ``polite`` and m2, so the effective request is the one that made the answer. Both backends alike."""
    w1, w2 = start_worker("m1"), start_worker("m2")
    r = cached_router(start_router, follow_config(w1.url, w2.url, backend))
    _, h, _ = chat(r, "Please, what is cognitive dissonance?", headers={"x-fake-reply": "Arr, a mind at war."})
    assert h["x-vsr-selected-decision"] == "polite" and h["x-vsr-selected-model"] == "m2"
    stored(r, 1)
    _, h, body = chat(r, "What does cognitive dissonance mean?")
    assert h["x-vsr-cache-hit"] == "true" and content(body) == "Arr, a mind at war.", h
    assert h["x-vsr-selected-decision"] == "polite" and h["x-vsr-selected-model"] == "m2"
    assert h["x-vsr-cache-followed-from"] == "default" and float(h["x-vsr-cache-verifier"]) > 0
    assert body["model"] == "m2" and upstream_calls(w1) == 0 and upstream_calls(w2) == 1
    stage = stats(r)["stage"]
    assert stage["follows"] == 1 and stage["hits"] == 1
    _, _, log = http_json("GET", r.url + "/api/v1/decisions")
    record = log["decisions"][-1] if isinstance(log, dict) else log[-1]
    assert record["decision"] == "polite" and record["cache_followed_from"] == "default"
    with urllib.request.urlopen(r.url + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert "semrouter_cache_follows_total 1.0" in metrics
    # another tenant never gets it, paraphrase or original
    _, h, body = chat(r, "What does cognitive dissonance mean?", headers={"x-tenant-id": "other"})
    assert h["x-vsr-cache-hit"] == "false" and "x-vsr-cache-followed-from" not in h
    assert h["x-vsr-selected-decision"] == "default" and upstream_calls(w1) == 1


def test_flipped_operation_stored_under_another_decision_is_still_a_miss(start_worker, start_router, backend):
    w1, w2 = start_worker("m1"), start_worker("m2")
    r = cached_router(start_router, follow_config(w1.url, w2.url, backend))
    chat(r, "Please, how do I turn on dark mode in Outlook?", headers={"x-fake-reply": "Settings > Theme > Dark."})
    stored(r, 1)
    _, h, body = chat(r, "How do I turn off dark mode in Outlook?", headers={"x-fake-reply": "Theme > Light."})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "Theme > Light."
    assert h["x-vsr-selected-decision"] == "default" and "x-vsr-cache-followed-from" not in h
    stage = stats(r)["stage"]
    assert stage["verifier_rejections"] == 1 and stage["near_misses"] == 1 and stage["follows"] == 0


def test_following_is_off_with_the_switch_and_for_explicit_rules(start_worker, start_router):
    w1, w2 = start_worker("m1"), start_worker("m2")
    cfg = follow_config(w1.url, w2.url, {"follow": {"enabled": False}})
    r = start_router(cfg)
    chat(r, "Please, what is cognitive dissonance?", headers={"x-fake-reply": "Arr."})
    stored(r, 1)
    _, h, body = chat(r, "What does cognitive dissonance mean?", headers={"x-fake-reply": "A conflict."})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "A conflict."
    assert h["x-vsr-selected-decision"] == "default" and stats(r)["stage"]["follows"] == 0
    # switched on: stored under default, the keyword-routed paraphrase keeps its explicit decision
    w3, w4 = start_worker("m1"), start_worker("m2")
    r = start_router(follow_config(w3.url, w4.url))
    chat(r, "What does cognitive dissonance mean?", headers={"x-fake-reply": "A conflict."})
    stored(r, 1)
    _, h, body = chat(r, "Please, what is cognitive dissonance?", headers={"x-fake-reply": "Arr."})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "Arr."
    assert h["x-vsr-selected-decision"] == "polite" and stats(r)["stage"]["follows"] == 0


def test_streamed_answer_stored_and_replayed_through_a_follow(start_worker, start_router, backend):
    w1, w2 = start_worker("m1"), start_worker("m2")
    r = cached_router(start_router, follow_config(w1.url, w2.url, backend))
    reply = "It is the discomfort of holding two beliefs at once."
    h, _ = chat_stream(r, "Please explain the concept of cognitive dissonance", headers={"x-fake-reply": reply})
    assert h["x-vsr-selected-decision"] == "polite"
    stored(r, 1)
    h, raw = chat_stream(r, "Explain the concept of cognitive dissonance")
    assert h["x-vsr-cache-hit"] == "true" and h["x-vsr-cache-followed-from"] == "default"
    assert h["x-vsr-selected-decision"] == "polite" and h["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(raw)
    assert streamed_text(raw) == reply and payloads[-1] == "[DONE]"
    assert payloads[0]["model"] == "m2" and upstream_calls(w1) == 0 and upstream_calls(w2) == 1


def test_near_miss_with_another_number_is_a_miss(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    chat(r, "What is 17 * 23?", headers={"x-fake-reply": "391"})
    stored(r, 1)
    _, h, body = chat(r, "What is 17 * 24?", headers={"x-fake-reply": "408"})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "408"
    assert upstream_calls(w) == 2
    assert stats(r)["stage"]["near_misses"] == 1  # similar enough by embedding, refused by the verifier


def test_ttl_expiry(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(cache_config(w.url, cache={"ttl_s": 0.5}))
    chat(r, "How many legs does a spider have?")
    stored(r, 1)
    assert chat(r, "How many legs does a spider have?")[1]["x-vsr-cache-hit"] == "true"
    time.sleep(0.7)
    assert chat(r, "How many legs does a spider have?")[1]["x-vsr-cache-hit"] == "false"
    assert upstream_calls(w) == 2
    assert stats(r)["backend"]["expirations"] >= 1


def test_eviction_at_max_entries(start_worker, start_router):
    """One entry per answer (following off: with it on, each answer also takes a question-partition entry)."""
    w = start_worker("m1")
    r = start_router(cache_config(w.url, cache={"max_entries": 2, "follow": {"enabled": False}}))
    questions = ["How many legs does a spider have?", "Who wrote Hamlet?", "Why is the sky blue?"]
    for n, q in enumerate(questions, 1):
        chat(r, q)
        stored(r, n)
    assert stats(r)["backend"]["entries"] == 2 and stats(r)["backend"]["evictions"] == 1
    assert chat(r, questions[2])[1]["x-vsr-cache-hit"] == "true"
    assert chat(r, questions[0])[1]["x-vsr-cache-hit"] == "false"  # the least recently used one went


def test_partition_isolation(start_worker, start_router, backend):
    w = start_worker("m1")
    r = cached_router(start_router, cache_config(w.url, cache=backend))
    q = "What is the boiling point of water at sea level?"
    tenant_a, tenant_b = {"x-tenant-id": "tenant-a"}, {"x-tenant-id": "tenant-b"}
    chat(r, q, headers={**tenant_a, "x-fake-reply": "answer for A"})
    stored(r, 1)
    _, h, body = chat(r, q, headers={**tenant_b, "x-fake-reply": "answer for B"})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "answer for B"
    stored(r, 2)
    _, h, body = chat(r, q)  # no tenant: its own partition as well
    assert h["x-vsr-cache-hit"] == "false" and content(body) != "answer for A"
    for headers, expected in ((tenant_a, "answer for A"), (tenant_b, "answer for B")):
        _, h, body = chat(r, q, headers=headers)
        assert h["x-vsr-cache-hit"] == "true" and content(body) == expected
    # same tenant, different system prompt / tools / earlier turn: a different conversation, a miss
    system = [{"role": "system", "content": "Answer like a pirate."}]
    assert chat(r, q, headers=tenant_a, messages=system)[1]["x-vsr-cache-hit"] == "false"
    tools = [{"type": "function", "function": {"name": "thermometer", "parameters": {"type": "object"}}}]
    assert chat(r, q, headers=tenant_a, tools=tools)[1]["x-vsr-cache-hit"] == "false"
    earlier = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    assert chat(r, q, headers=tenant_a, messages=earlier)[1]["x-vsr-cache-hit"] == "false"
    assert chat(r, q, headers=tenant_a, max_tokens=50)[1]["x-vsr-cache-hit"] == "false"
    # an explicit model name is its own partition (no decision), and is cached as well
    assert chat(r, q, headers=tenant_a, model="m1")[1]["x-vsr-cache-hit"] == "false"
    stored(r, 8)
    assert chat(r, q, headers=tenant_a, model="m1")[1]["x-vsr-cache-hit"] == "true"


def reasoning_config(url: str, cache: dict[str, Any]) -> dict[str, Any]:
    cfg = cache_config(url, cache=cache)
    cfg["models"][0]["family"] = "qwen3"  # the decision switches thinking on: the worker then reasons
    cfg["decisions"][0]["use_reasoning"] = True
    return cfg


def test_stream_stored_replayed_as_json_and_as_stream(start_worker, start_router, engine, backend):
    w = start_worker("m1")
    r = cached_router(start_router, reasoning_config(w.url, backend), engine=engine)
    q = "Explain the concept of cognitive dissonance"
    h, raw = chat_stream(
        r,
        q,
        headers={"x-fake-reply": "It is the discomfort of holding two beliefs."},
        stream_options={"include_usage": True},  # a stream only carries usage when asked: then it is kept
    )
    assert h["x-vsr-cache-hit"] == "false"
    assert streamed_text(raw, "reasoning_content") == "Let me think."
    stored(r, 1)
    # stream -> non-stream
    _, h, body = chat(r, q)
    assert h["x-vsr-cache-hit"] == "true"
    message = body["choices"][0]["message"]
    assert message["content"] == "It is the discomfort of holding two beliefs."
    assert message["reasoning_content"] == "Let me think." and body["choices"][0]["finish_reason"] == "stop"
    # stream -> stream, parsed by the openai SDK, with usage because it is asked for
    client = OpenAI(base_url=r.url + "/v1", api_key="unused", max_retries=0)
    raw_resp = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": q}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw_resp.headers["x-vsr-cache-hit"] == "true"
    assert raw_resp.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw_resp.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    thoughts = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert text == "It is the discomfort of holding two beliefs." and thoughts == "Let me think."
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # replayed in pieces
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].model == "m1"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    # without include_usage: no usage chunk, still ends with [DONE]
    h, raw = chat_stream(r, q)
    payloads = sse_payloads(raw)
    assert h["x-vsr-cache-hit"] == "true" and payloads[-1] == "[DONE]"
    assert not any("usage" in p for p in payloads[:-1])
    assert upstream_calls(w) == 1


def test_json_stored_replayed_as_stream(start_worker, start_router, backend):
    w = start_worker("m1")
    r = cached_router(start_router, reasoning_config(w.url, backend))
    q = "What are the benefits of regular exercise?"
    chat(r, q, headers={"x-fake-reply": "Better health and mood."})
    stored(r, 1)
    client = OpenAI(base_url=r.url + "/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": q}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Better health and mood."
    thoughts = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert thoughts == "Let me think."
    assert upstream_calls(w) == 1


def test_client_disconnect_mid_stream_stores_nothing(start_worker, start_router, backend):
    w = start_worker("m1", "--tokens-per-s", "20", "--reply-tokens", "40")
    r = cached_router(start_router, cache_config(w.url, cache=backend))
    body = json.dumps({"model": "auto", "stream": True, "messages": [{"role": "user", "content": "Tell a story"}]})
    sock = socket.create_connection(("127.0.0.1", r.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body.encode()
    )
    got = b""
    while got.count(b"data: ") < 3:
        got += sock.recv(65536)
    sock.close()
    stage = skipped(r, "client_disconnected")
    assert stage["stores"] == 0 and stats(r)["backend"]["stores"] == 0
    # the same request, completed this time, is then stored: the skip was about the cut, not the request
    h, raw = chat_stream(r, "Tell a story")
    assert h["x-vsr-cache-hit"] == "false" and sse_payloads(raw)[-1] == "[DONE]"
    stored(r, 1)
    assert chat(r, "Tell a story")[1]["x-vsr-cache-hit"] == "true"


def test_errors_are_not_stored(start_worker, start_router, backend):
    w = start_worker("m1")
    r = cached_router(start_router, cache_config(w.url, cache=backend))
    q = "Why is the sky blue?"
    status, _, _ = chat(r, q, headers={"x-fake-status": "500"})
    assert status == 500
    skipped(r, "status")
    status, _, _ = chat(r, q, headers={"x-fake-status": "500"}, stream=True)
    skipped(r, "status", 2)
    assert chat(r, q)[1]["x-vsr-cache-hit"] == "false"  # nothing was kept from the failures
    assert upstream_calls(w) == 3
    stored(r, 1)  # only the successful answer reached the backend (as two entries: decision and question)
    assert stats(r)["backend"]["stores"] == 2 and chat(r, q)[1]["x-vsr-cache-hit"] == "true"


def test_truncated_answers_are_not_stored_unless_configured(start_worker, start_router):
    """An answer cut by ``max_tokens`` (finish_reason "length") is incomplete: not kept by default; a
    deployment that wants it lists "length" in ``cache_finish_reasons``."""
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    chat(r, "Who wrote Hamlet?", max_tokens=3)
    chat_stream(r, "Who painted the Mona Lisa?", max_tokens=3)
    skipped(r, "finish_reason", 2)
    assert chat(r, "Who wrote Hamlet?", max_tokens=3)[1]["x-vsr-cache-hit"] == "false"
    assert stats(r)["stage"]["stores"] == 0
    w2 = start_worker("m1")
    r2 = start_router(cache_config(w2.url, cache={"cache_finish_reasons": ["stop", "length"]}))
    chat(r2, "Who wrote Hamlet?", max_tokens=3, headers={"x-fake-finish": "length"})
    stored(r2, 1)
    assert chat(r2, "Who wrote Hamlet?", max_tokens=3)[1]["x-vsr-cache-hit"] == "true"


def test_cache_control_and_uncacheable_parameters(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    q = "What is the tallest mountain on Earth?"
    _, h, _ = chat(r, q, headers={"cache-control": "no-store"})
    assert "x-vsr-cache-hit" not in h
    h, _ = chat_stream(r, q, headers={"x-vsr-cache-control": "no-store"})
    assert "x-vsr-cache-hit" not in h
    for extra in ({"temperature": 1.2}, {"n": 2}, {"seed": 7}, {"logprobs": True}):
        assert "x-vsr-cache-hit" not in chat(r, q, **extra)[1]
    bypasses = stats(r)["stage"]["bypasses"]
    assert bypasses == {"no-store": 2, "temperature": 1, "n": 1, "seed": 1, "logprobs": 1}
    assert chat(r, q)[1]["x-vsr-cache-hit"] == "false"  # nothing stored by the bypassed ones
    stored(r, 1)
    assert chat(r, q)[1]["x-vsr-cache-hit"] == "true"
    # no-cache: skip the lookup, but keep the fresh answer
    _, h, body = chat(r, q, headers={"cache-control": "no-cache", "x-fake-reply": "Everest (fresh)"})
    assert h["x-vsr-cache-hit"] == "false" and content(body) == "Everest (fresh)"
    stored(r, 2)
    assert upstream_calls(w) == 8


def test_decision_policy_disables_and_overrides(start_worker, start_router):
    w = start_worker("m1")
    # the verifier off: with it on, the lookup floor is its min_similarity whatever the policy's threshold
    cfg = cache_config(w.url, cache={"threshold": 0.99, "verifier": {"enabled": False}})
    cfg["signals"] = [{"name": "private", "type": "keyword", "keywords": ["secret"]}]
    cfg["decisions"] = [
        {"name": "default", "models": [{"model": "m1"}], "cache": {"threshold": 0.9}},
        {"name": "private", "models": [{"model": "m1"}], "rules": {"signal": "private"}, "cache": {"enabled": False}},
    ]
    r = start_router(cfg)
    assert "x-vsr-cache-hit" not in chat(r, "my secret plan")[1]
    assert stats(r)["stage"]["bypasses"] == {"decision": 1}
    chat(r, "What is cognitive dissonance?")
    stored(r, 1)
    # 0.974 similar: a hit only because the decision's threshold (0.9) beats the global one (0.99)
    assert chat(r, "What does cognitive dissonance mean?")[1]["x-vsr-cache-hit"] == "true"


def test_admin_api_without_a_configured_token(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    assert stats(r)["enabled"] is True
    for path in ("/api/v1/cache/flush", "/api/v1/cache/invalidate"):
        status, _, body = http_json("POST", r.url + path, {"tenant": "a"}, {"authorization": "Bearer x"})
        assert status == 403 and body["error"]["code"] == "admin_disabled"
        assert "admin_token_env" in body["error"]["message"]


def test_admin_stats_invalidate_and_flush(start_worker, start_router):
    w = start_worker("m1")
    cfg = cache_config(w.url, server={"admin_token_env": TOKEN_ENV})
    r = start_router(cfg, env={TOKEN_ENV: "s3cret"})
    good = {"authorization": "Bearer s3cret"}
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret"}):
        status, h, body = http_json("POST", r.url + "/api/v1/cache/flush", {}, headers)
        assert status == 401 and body["error"]["code"] == "invalid_admin_token" and h["www-authenticate"] == "Bearer"
    q1, q2 = "Who wrote Hamlet?", "Why is the sky blue?"
    for tenant in ("a", "b"):
        chat(r, q1, headers={"x-tenant-id": tenant})
    stored(r, 2)
    status, _, body = http_json("POST", r.url + "/api/v1/cache/invalidate", {"tenant": "a"}, good)
    # an answer is kept twice (its decision's partition and its question's, cache.follow): both go
    assert status == 200 and body == {"invalidated": 2}
    assert chat(r, q1, headers={"x-tenant-id": "a"})[1]["x-vsr-cache-hit"] == "false"
    assert chat(r, q1, headers={"x-tenant-id": "b"})[1]["x-vsr-cache-hit"] == "true"
    stored(r, 3)
    status, _, body = http_json("POST", r.url + "/api/v1/cache/invalidate", {"decision": "nope"}, good)
    assert body == {"invalidated": 0}
    status, _, body = http_json("POST", r.url + "/api/v1/cache/invalidate", {"older_than_s": 3600}, good)
    assert body == {"invalidated": 0}  # nothing is an hour old
    chat(r, q2)
    stored(r, 4)
    status, _, body = http_json("POST", r.url + "/api/v1/cache/invalidate", {"decision": "default", "tenant": ""}, good)
    assert body == {"invalidated": 2}  # the one answer without a tenant (both its entries)
    for bad in ({}, {"tenant": 3}, {"older_than_s": -1}, {"colour": "red"}, [1]):
        status, _, body = http_json("POST", r.url + "/api/v1/cache/invalidate", bad, good)
        assert status == 400, bad
    status, _, body = http_json("POST", r.url + "/api/v1/cache/flush", None, good)
    assert status == 200 and body == {"flushed": 4}
    s = stats(r)
    assert s["backend"]["entries"] == 0 and s["backend"]["invalidations"] == 8
    assert s["stage"]["stores"] == 4 and s["stage"]["circuit_breaker"]["state"] == "closed"


def test_dry_run_reports_the_lookup_and_never_stores(start_worker, start_router):
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    q = "What is cognitive dissonance?"
    status, _, body = http_json("POST", r.url + "/api/v1/route", {"text": q})
    assert status == 200 and body["signals"]["cache_lookup"]["matched"] is False
    chat(r, q)
    stored(r, 1)
    _, _, body = http_json("POST", r.url + "/api/v1/route", {"text": q})
    assert body["signals"]["cache_lookup"]["matched"] is True and body["signals"]["cache_lookup"]["confidence"] == 1
    assert body["model"] == "m1" and not body["blocked"]
    time.sleep(0.1)
    assert stats(r)["stage"]["stores"] == 1 and upstream_calls(w) == 1


@pytest.mark.parametrize("api", ["completions", "embeddings"])
def test_other_apis_pass_through_uncached(start_worker, start_router, api):
    w = start_worker("m1")
    r = start_router(cache_config(w.url))
    body = {"model": "m1", "prompt": "Say hi"} if api == "completions" else {"model": "m1", "input": "hi"}
    for _ in range(2):
        status, h, _ = http_json("POST", f"{r.url}/v1/{api}", body)
        assert status == 200 and "x-vsr-cache-hit" not in h
    assert upstream_calls(w) == 2 and stats(r)["stage"]["bypasses"] == {"api": 2}


def test_hot_reload_keeps_entries_unless_backend_settings_change(start_worker, start_router):
    w = start_worker("m1")
    cfg = cache_config(w.url)
    r = start_router(cfg)
    q = "Who wrote Hamlet?"
    chat(r, q)
    stored(r, 1)

    def reload(new: dict[str, Any], count: int) -> None:
        write_config(r.config_path, new)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while http_json("GET", r.url + "/api/v1/status")[2]["config"]["reloads_ok"] < count:
            assert time.monotonic() < deadline, "config was not reloaded"
            time.sleep(0.05)

    reload(cache_config(w.url, cache={"threshold": 0.95, "ttl_s": 60}), 1)  # policy only: same backend
    assert chat(r, q)[1]["x-vsr-cache-hit"] == "true"
    assert stats(r)["stage"]["hits"] == 1  # counters survive the reload too
    reload(cache_config(w.url, cache={"max_entries": 10}), 2)  # backend settings changed: a new, empty one
    assert chat(r, q)[1]["x-vsr-cache-hit"] == "false"
    assert stats(r)["stage"]["hits"] == 0


@pytest.mark.parametrize("scope", ["user", "tenant"])
def test_cache_scope_user_or_tenant(start_worker, start_router, scope):
    """Issue 15.6: with scope "user" (the default) one end user's answer is never served to another of the same
    tenant; with scope "tenant" it is. Requests naming no user share among themselves either way."""
    w = start_worker("m1")
    r = start_router(cache_config(w.url, cache={"scope": scope} if scope == "tenant" else {}))
    q = "What is cognitive dissonance?"
    chat(r, q, user="alice", headers={"x-fake-reply": "Alice's answer."})
    stored(r, 1)
    status, h, again = chat(r, q, user="alice")
    assert status == 200 and h["x-vsr-cache-hit"] == "true" and content(again) == "Alice's answer."
    status, h, other = chat(r, q, user="bob", headers={"x-fake-reply": "Bob's answer."})
    assert h["x-vsr-cache-hit"] == ("false" if scope == "user" else "true")
    assert content(other) == ("Bob's answer." if scope == "user" else "Alice's answer.")
    _, h, _ = chat(r, q, headers={"x-fake-reply": "Anyone's answer."})
    assert h["x-vsr-cache-hit"] == ("false" if scope == "user" else "true")
