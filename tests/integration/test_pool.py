"""Pool behaviour against real worker processes: policies, retry, ejection, re-admission, fallback."""

from __future__ import annotations

import concurrent.futures
import time
from collections import Counter

from conftest import simple_config
from servers import fake_worker, http_json

CHAT = "/v1/chat/completions"


def ask(url: str, text: str = "hi", model: str = "auto", headers: dict[str, str] | None = None):
    return http_json(
        "POST", url + CHAT, {"model": model, "messages": [{"role": "user", "content": text}]}, headers=headers
    )


def status(url: str) -> dict:
    return http_json("GET", url + "/api/v1/status")[2]


def test_round_robin_over_real_workers(start_worker, start_router):
    ws = [start_worker("m1") for _ in range(3)]
    r = start_router(simple_config({"m1": [w.url for w in ws]}))
    seen = Counter(ask(r.url)[1]["x-vsr-destination-endpoint"] for _ in range(12))
    assert seen == {w.url: 4 for w in ws}
    assert [len(w.requests()) for w in ws] == [4, 4, 4]


def test_session_affinity_over_real_workers(start_worker, start_router):
    ws = [start_worker("m1") for _ in range(3)]
    r = start_router(simple_config({"m1": [w.url for w in ws]}, pool={"policy": "session"}))
    for sid in ("alice", "bob", "carol", "dave"):
        dests = {ask(r.url, headers={"x-session-id": sid})[1]["x-vsr-destination-endpoint"] for _ in range(5)}
        assert len(dests) == 1


def test_retry_on_killed_endpoint_and_ejection_then_readmission(start_worker, start_router, tmp_path, servers):
    a = start_worker("m1")
    b = start_worker("m1")
    cfg = simple_config(
        {"m1": [a.url, b.url]},
        pool={
            "max_retries": 2,
            "ejection": {"consecutive_failures": 2, "base_seconds": 1.5},
            "health_check": {"enabled": False},
        },
    )
    r = start_router(cfg)
    a.kill()
    # every request still succeeds: connect errors on a are retried on b
    results = [ask(r.url, f"q{i}") for i in range(10)]
    assert all(s == 200 for s, _, _ in results)
    assert {h["x-vsr-destination-endpoint"] for _, h, _ in results} == {b.url}
    ep_a = next(e for e in status(r.url)["endpoints"] if e["url"] == a.url)
    assert ep_a["failures"] == 2 and ep_a["ejected_for_s"] > 0  # ejected after 2 consecutive failures
    assert status(r.url)["retries"] == 2  # once ejected, a is not even tried
    # bring a back on the same port: after the ejection period it takes traffic again
    revived = fake_worker("m1", a.port, log=tmp_path / "revived.log").start()
    servers.append(revived)
    time.sleep(1.6)
    dests = Counter(ask(r.url)[1]["x-vsr-destination-endpoint"] for _ in range(6))
    assert dests[a.url] == 3 and dests[b.url] == 3


def test_retry_on_503_before_any_byte(start_worker, start_router):
    bad = start_worker("m1", "--fail-rate", "1.0")
    good = start_worker("m1")
    r = start_router(simple_config({"m1": [bad.url, good.url]}, pool={"ejection": {"consecutive_failures": 100}}))
    for _ in range(6):
        s, h, _ = ask(r.url)
        assert s == 200 and h["x-vsr-destination-endpoint"] == good.url
    assert len(bad.requests()) == 3  # round-robin sent every other first attempt to bad; each was retried


def test_fallback_model_when_all_endpoints_down(start_worker, start_router):
    backup = start_worker("backup")
    dead = start_worker("big")
    cfg = simple_config({"big": [dead.url], "backup": [backup.url]})
    cfg["models"][0]["fallback"] = ["backup"]
    r = start_router(cfg)
    dead.kill()
    s, h, body = ask(r.url)
    assert s == 200 and h["x-vsr-selected-model"] == "backup" and h["x-vsr-fallback-from"] == "big"
    assert body["echo"]["model"] == "backup"  # the request was rewritten for the fallback model


def test_health_checks_remove_and_restore(start_worker, start_router, tmp_path, servers):
    a = start_worker("m1")
    b = start_worker("m1")
    r = start_router(simple_config({"m1": [a.url, b.url]}))  # checks every 0.5 s, 2 failures → down
    a.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not next(e for e in status(r.url)["endpoints"] if e["url"] == a.url)["healthy"]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("endpoint a was never marked unhealthy")
    assert status(r.url)["retries"] == 0  # no client request was needed to find out
    revived = fake_worker("m1", a.port, log=tmp_path / "revived.log").start()
    servers.append(revived)
    deadline = time.monotonic() + 10
    while not next(e for e in status(r.url)["endpoints"] if e["url"] == a.url)["healthy"]:
        assert time.monotonic() < deadline, "endpoint a never came back"
        time.sleep(0.1)


def test_least_outstanding_avoids_slow_endpoint(start_worker, start_router):
    slow = start_worker("m1", "--latency-ms", "400")
    fast = start_worker("m1")
    r = start_router(simple_config({"m1": [slow.url, fast.url]}, pool={"policy": "least_outstanding"}))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: ask(r.url, f"q{i}"), range(40)))
    dests = Counter(h["x-vsr-destination-endpoint"] for _, h, _ in results)
    assert dests[fast.url] > 3 * dests[slow.url]


def test_prefix_policy_over_real_workers(start_worker, start_router):
    """Each document's questions stick to the endpoint that first saw the document, which is not simply the
    first or least-loaded endpoint: three documents end up on three different endpoints."""
    ws = [start_worker("m1") for _ in range(3)]
    r = start_router(simple_config({"m1": [w.url for w in ws]}, pool={"policy": "prefix"}))
    docs = [f"Document {name}. " + f"{name} " * 100 for name in ("alpha", "beta", "gamma")]
    homes = [ask(r.url, doc + "first question")[1]["x-vsr-destination-endpoint"] for doc in docs]
    assert len(set(homes)) == 3  # new documents spread over the endpoints instead of piling onto one
    for doc, home in zip(docs, homes, strict=True):
        dests = {ask(r.url, doc + f"question {i}")[1]["x-vsr-destination-endpoint"] for i in range(4)}
        assert dests == {home}


def test_upstream_api_key_from_env_and_served_model(start_worker, start_router):
    w = start_worker("m1")
    cfg = simple_config({"m1": [w.url]})
    cfg["models"][0]["endpoints"][0].update({"api_key_env": "WORKER_KEY", "served_model": "org/real-name"})
    r = start_router(cfg, env={"WORKER_KEY": "sekret"})
    s, _, body = ask(r.url, model="m1", headers={"authorization": "Bearer client-key"})
    assert s == 200
    assert body["echo"]["authorization"] == "Bearer sekret"
    assert body["echo"]["model"] == "org/real-name"
