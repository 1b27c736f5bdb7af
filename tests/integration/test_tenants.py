"""Tenants from API keys through the real router and fake workers on loopback (the real ``openai`` SDK
where an SDK user would meet the behaviour): 401 for an unknown key, 403 outside the tenant's models,
429 with ``Retry-After``, and isolation: a key of tenant A never reads tenant B's cache entries, decision
log entries or limits, and a forged tenant header changes nothing.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import simple_config
from openai import OpenAI
from servers import Server, http_json

from semrouter.tenancy.config import key_digest

KEY_A = "sk-acme-test-0001"
KEY_A2 = "sk-acme-test-0002"
KEY_B = "sk-globex-test-0001"
ADMIN = "admin-token-for-tests"
ENV = {"SEMROUTER_TEST_ADMIN": ADMIN, "GLOBEX_KEYS": key_digest(KEY_B)}


def tenancy(tmp_path: Path, **limits: Any) -> dict[str, Any]:
    """acme: one key inline, one from a file (its own rpm), only m1; globex: a key from an env var, limits."""
    keyfile = tmp_path / "acme.keys"
    keyfile.write_text(f"# acme's CI key\n{key_digest(KEY_A2)}\n")
    return {
        "tenants": [
            {
                "name": "acme",
                "keys": [
                    {"name": "acme-main", "sha256": key_digest(KEY_A)},
                    {"name": "acme-ci", "sha256_file": str(keyfile), "limits": {"requests_per_minute": 1}},
                ],
                "models": ["m1"],
            },
            {"name": "globex", "keys": [{"sha256_env": "GLOBEX_KEYS"}], "limits": limits},
        ]
    }


def config(worker: Server, tmp_path: Path, *, cache: bool = False, **limits: Any) -> dict[str, Any]:
    cfg = simple_config(
        {"m1": [worker.url], "m2": [worker.url]},
        tenancy=tenancy(tmp_path, **limits),
        server={"admin_token_env": "SEMROUTER_TEST_ADMIN"},
    )
    cfg["models"][0]["pricing"] = {"prompt_per_1m": 1000.0, "completion_per_1m": 1000.0}
    if cache:
        cfg["cache"] = {"enabled": True}
    return cfg


def chat(r: Server, key: str | None, text: str, model: str = "auto", **headers: str) -> tuple[int, dict[str, str], Any]:
    h = dict(headers)
    if key is not None:
        h["authorization"] = f"Bearer {key}"
    return http_json(
        "POST", r.url + "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": text}]}, h
    )


def wait_stores(r: Server, n: int, timeout: float = 10.0) -> None:
    """Stores happen in the background after the answer: wait for the cache's counter."""
    deadline = time.monotonic() + timeout
    while http_json("GET", r.url + "/api/v1/cache/stats")[2]["stage"]["stores"] < n:
        assert time.monotonic() < deadline, "the answer was never stored"
        time.sleep(0.05)


def test_keys_map_to_tenants_through_the_openai_sdk(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    r = start_router(config(worker, tmp_path), env=ENV)
    acme = OpenAI(base_url=r.url + "/v1", api_key=KEY_A, max_retries=0)
    answer = acme.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert answer.http_response.status_code == 200 and answer.parse().model == "m1"
    # the virtual key is the router's: the worker never sees it (it has no key of its own, so none)
    assert worker.requests()[-1]["headers"].get("authorization") is None

    with pytest.raises(openai.AuthenticationError) as unknown:
        OpenAI(base_url=r.url + "/v1", api_key="sk-not-a-key", max_retries=0).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}]
        )
    assert unknown.value.code == "invalid_api_key" and "sk-not" not in str(unknown.value)
    status, _, body = chat(r, None, "hi")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"

    with pytest.raises(openai.PermissionDeniedError) as denied:  # acme may use m1 only
        acme.chat.completions.create(model="m2", messages=[{"role": "user", "content": "hi"}])
    assert denied.value.code == "model_not_allowed"
    status, _, _ = chat(r, KEY_B, "hi", model="m2")  # globex may use any model
    assert status == 200
    assert [m.id for m in acme.models.list()] == ["auto", "m1"]  # each key lists what its tenant may use
    assert [m.id for m in OpenAI(base_url=r.url + "/v1", api_key=KEY_B).models.list()] == ["auto", "m1", "m2"]
    assert http_json("GET", r.url + "/v1/models")[0] == 401
    assert len(worker.requests()) == 2  # neither the 401s nor the 403 reached a worker


def test_a_tenant_never_reads_another_tenants_cache_even_with_a_forged_header(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    r = start_router(config(worker, tmp_path, cache=True), env=ENV)
    question = "What is the boiling point of water at sea level in Celsius?"
    status, h, _ = chat(r, KEY_A, question)
    assert status == 200 and h["x-vsr-cache-hit"] == "false"
    wait_stores(r, 1)
    status, h, _ = chat(r, KEY_A2, question)  # another key of the same tenant shares its cache
    assert status == 200 and h["x-vsr-cache-hit"] == "true"
    # globex, naming acme in the tenant header (an untrusted client: ignored), still misses
    status, h, _ = chat(r, KEY_B, question, **{"x-tenant-id": "acme"})
    assert status == 200 and h["x-vsr-cache-hit"] == "false"
    assert len(worker.requests()) == 2


def test_decision_log_entries_are_seen_by_their_own_tenant_only(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    r = start_router(config(worker, tmp_path), env=ENV)
    assert chat(r, KEY_A, "acme question")[0] == 200
    assert chat(r, KEY_B, "globex question", **{"x-tenant-id": "acme"})[0] == 200

    def seen(token: str | None) -> tuple[int, Any]:
        h = {"authorization": f"Bearer {token}"} if token else {}
        status, _, body = http_json("GET", r.url + "/api/v1/decisions", headers=h)
        return status, body

    deadline = time.monotonic() + 5  # records are added once the answer is out
    while len(seen(ADMIN)[1]["decisions"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _, everyone = seen(ADMIN)
    assert sorted(d["tenant"] for d in everyone["decisions"]) == ["acme", "globex"]
    _, acme = seen(KEY_A)
    assert [d["tenant"] for d in acme["decisions"]] == ["acme"] and acme["total"] == 1
    _, globex = seen(KEY_B)
    assert [d["tenant"] for d in globex["decisions"]] == ["globex"]
    assert seen(None)[0] == 401 and seen("sk-not-a-key")[0] == 401
    status, _, _ = http_json("GET", r.url + "/api/v1/policy", headers={"authorization": f"Bearer {KEY_A}"})
    assert status == 403  # every decision's system prompt: admin or read token only
    status, _, _ = http_json("POST", r.url + "/api/v1/cache/flush", headers={"authorization": f"Bearer {KEY_A}"})
    assert status == 401  # a tenant key is no admin token


def test_rate_limits_answer_429_with_retry_after_per_tenant_and_per_key(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    r = start_router(config(worker, tmp_path, requests_per_minute=2), env=ENV)
    assert chat(r, KEY_B, "one")[0] == 200
    assert chat(r, KEY_B, "two")[0] == 200
    globex = OpenAI(base_url=r.url + "/v1", api_key=KEY_B, max_retries=0)
    with pytest.raises(openai.RateLimitError) as limited:
        globex.chat.completions.create(model="auto", messages=[{"role": "user", "content": "three"}])
    err = limited.value
    assert err.code == "rate_limit_exceeded" and err.type == "requests"
    retry = int(err.response.headers["retry-after"])
    assert 1 <= retry <= 30  # 2 a minute: one more after ~30 s
    assert len(worker.requests()) == 2  # the refused one never reached a worker
    # acme's budget of requests is its own: globex's spent minute does not touch it
    assert chat(r, KEY_A, "one")[0] == 200 and chat(r, KEY_A, "two")[0] == 200 and chat(r, KEY_A, "3")[0] == 200
    # a key's own limit (acme-ci: 1 a minute) applies beside its tenant's
    assert chat(r, KEY_A2, "ci one")[0] == 200
    status, h, body = chat(r, KEY_A2, "ci two")
    assert status == 429 and int(h["retry-after"]) >= 1 and h["x-vsr-limit"] == "requests_per_minute"
    assert "acme-ci" in body["error"]["message"]
    # counted by configured tenant name (a bounded label) and the limit that refused
    want = [
        'semrouter_rate_limited_total{limit="requests_per_minute",tenant="globex"} 1.0',
        'semrouter_rate_limited_total{limit="requests_per_minute",tenant="acme"} 1.0',
    ]
    deadline = time.monotonic() + 5
    while True:
        with urllib.request.urlopen(r.url + "/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        if all(w in metrics for w in want) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [w for w in want if w not in metrics] == []


def test_tokens_and_budget_are_counted_from_usage(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    # m1 costs $1000 per 1M tokens: ~20 tokens of usage is $0.02, over globex's $0.01 a day after one request
    r = start_router(config(worker, tmp_path, budget={"usd": 0.01, "period": "day"}), env=ENV)
    status, _, body = chat(r, KEY_B, "spend something")
    assert status == 200 and body["usage"]["total_tokens"] > 10
    status, h, body = chat(r, KEY_B, "and again")
    assert status == 429 and body["error"]["code"] == "insufficient_quota"
    assert body["error"]["type"] == "insufficient_quota"
    assert 1 <= int(h["retry-after"]) <= 86400  # the next UTC day
    assert chat(r, KEY_A, "acme has no budget")[0] == 200


def test_token_limit_reserves_an_estimate_and_corrects_it_from_usage(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    r = start_router(config(worker, tmp_path, tokens_per_minute=600), env=ENV)
    # each request reserves ~body/4 + max_tokens: 500 for this one, more than is left after the first
    body = {"model": "auto", "max_tokens": 500, "messages": [{"role": "user", "content": "hi"}]}
    h = {"authorization": f"Bearer {KEY_B}"}
    status, _, answer = http_json("POST", r.url + "/v1/chat/completions", body, h)
    # ... but the answer used far fewer, and its usage gives the rest back: a second one fits
    assert status == 200 and answer["usage"]["total_tokens"] < 100
    assert http_json("POST", r.url + "/v1/chat/completions", body, h)[0] == 200
    body["max_tokens"] = 5000  # larger than a whole minute: needs a full bucket, which it no longer has
    status, headers, err = http_json("POST", r.url + "/v1/chat/completions", body, h)
    assert status == 429 and err["error"]["type"] == "tokens" and int(headers["retry-after"]) >= 1


def test_a_trusted_client_may_name_its_tenant_by_header(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    worker = start_worker("m1")
    cfg = config(worker, tmp_path)
    cfg["tenancy"]["trusted_cidrs"] = ["127.0.0.0/8"]
    r = start_router(cfg, env=ENV)
    status, _, _ = chat(r, None, "from the internal gateway", model="m2", **{"x-tenant-id": "acme"})
    assert status == 403  # the header named acme, and acme's rules apply: m1 only
    assert chat(r, None, "from the internal gateway", **{"x-tenant-id": "acme"})[0] == 200
    assert chat(r, "sk-not-a-key", "a bad key is still refused")[0] == 401


def test_behind_envoy_keys_limits_and_stripping_apply_the_same(
    start_worker: Callable[..., Server], servers: list[Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ext_proc service runs the same intake: 401 and 429 become Envoy's immediate responses, and the
    virtual key is removed from the request Envoy sends on."""
    from gateway import start_gateway

    for name, value in ENV.items():  # the processes start with this environment
        monkeypatch.setenv(name, value)
    small, large = start_worker("qwen3-8b"), start_worker("qwen3-32b")
    cfg = simple_config(
        {"qwen3-8b": [small.url], "qwen3-32b": [large.url]},
        tenancy=tenancy(tmp_path, requests_per_minute=1),
        reload={"enabled": False},
    )
    cfg["tenancy"]["tenants"][0]["models"] = ["qwen3-8b"]
    _, envoy = start_gateway(servers, tmp_path, cfg, {"qwen3-8b": small.port, "qwen3-32b": large.port})
    status, _, body = chat(envoy, "sk-not-a-key", "hi")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    status, h, _ = chat(envoy, KEY_B, "hi")
    assert status == 200 and h["x-vsr-selected-model"] == "qwen3-8b"
    assert small.requests()[-1]["headers"].get("authorization") is None
    status, h, body = chat(envoy, KEY_B, "again")
    assert status == 429 and int(h["retry-after"]) >= 1 and body["error"]["code"] == "rate_limit_exceeded"
    assert len(small.requests()) == 1


def test_every_api_path_takes_the_key_the_anthropic_way_too(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    """/v1/messages (Anthropic SDKs send ``x-api-key``) and /v1/responses go through the same intake."""
    worker = start_worker("m1")
    r = start_router(config(worker, tmp_path, requests_per_minute=2), env=ENV)
    body = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    status, _, answer = http_json("POST", r.url + "/v1/messages", body, {"x-api-key": KEY_B})
    assert status == 200 and answer["model"] == "m1"
    assert worker.requests()[-1]["headers"].get("x-api-key") is None  # the virtual key stays here
    status, _, err = http_json("POST", r.url + "/v1/messages", body, {"x-api-key": "sk-not-a-key"})
    assert status == 401 and err["type"] == "error"  # Anthropic's error shape
    status, _, _ = http_json("POST", r.url + "/v1/responses", {"model": "auto", "input": "hi"}, {"x-api-key": KEY_B})
    assert status == 200
    status, h, _ = http_json("POST", r.url + "/v1/responses", {"model": "auto", "input": "hi"}, {"x-api-key": KEY_B})
    assert status == 429 and int(h["retry-after"]) >= 1  # the same per-tenant counters on every path


def test_replicas_share_their_counters_through_redis_and_fall_back_to_their_own(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    """``tenancy.counters: redis``: two replicas count one tenant's requests together; with the server
    gone, each serves on its own counters instead of failing."""
    pytest.importorskip("redis", reason="redis not installed (pip install -e '.[redis]')")
    import redis_server

    if (why := redis_server.available()) is not None:
        pytest.skip(why)
    store = redis_server.RedisServer(tmp_path / "redis").start()
    try:
        worker = start_worker("m1")
        cfg = config(worker, tmp_path, requests_per_minute=3)
        cfg["tenancy"] |= {"counters": "redis", "redis_url": store.url, "redis_timeout_s": 0.5}
        one, two = start_router(cfg, env=ENV), start_router(cfg, env=ENV)
        assert chat(one, KEY_B, "a")[0] == 200 and chat(two, KEY_B, "b")[0] == 200 and chat(one, KEY_B, "c")[0] == 200
        status, h, body = chat(two, KEY_B, "d")  # the fourth of the minute, wherever it lands
        assert status == 429 and int(h["retry-after"]) >= 1 and body["error"]["code"] == "rate_limit_exceeded"
        assert chat(one, KEY_A, "acme's own")[0] == 200
        store.kill()
        # the shared store is gone: each replica's own counters (3 a minute each) take over
        assert chat(two, KEY_B, "e")[0] == 200
    finally:
        store.kill()


def test_shared_tokens_and_budget_are_corrected_from_usage_across_replicas(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    pytest.importorskip("redis", reason="redis not installed (pip install -e '.[redis]')")
    import redis_server

    if (why := redis_server.available()) is not None:
        pytest.skip(why)
    store = redis_server.RedisServer(tmp_path / "redis").start()
    try:
        worker = start_worker("m1")
        cfg = config(worker, tmp_path, tokens_per_minute=600, budget={"usd": 0.01, "period": "day"})
        cfg["tenancy"] |= {"counters": "redis", "redis_url": store.url, "redis_timeout_s": 0.5}
        one, two = start_router(cfg, env=ENV), start_router(cfg, env=ENV)
        body = {"model": "auto", "max_tokens": 500, "messages": [{"role": "user", "content": "hi"}]}
        h = {"authorization": f"Bearer {KEY_B}"}
        status, _, answer = http_json("POST", one.url + "/v1/chat/completions", body, h)
        assert status == 200 and answer["usage"]["total_tokens"] < 100  # reserved ~500, used fewer
        # the correction is sent after the answer: the other replica sees the tokens given back and the
        # spend (~20 tokens at $1000 per 1M: over the $0.01 budget) once it lands
        deadline = time.monotonic() + 5
        while True:
            status, headers, err = http_json("POST", two.url + "/v1/chat/completions", body, h)
            if status == 429 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 429 and err["error"]["code"] == "insufficient_quota", err
        assert int(headers["retry-after"]) >= 1
    finally:
        store.kill()
