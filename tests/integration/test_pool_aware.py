"""Pool-aware choice through the real router on loopback (issue 19, point 4): with the strong tier's worker
slowed past the decision's latency SLO, traffic shifts to the other tier (header and decision log say
why), and returns once the strong worker is fast again."""

from __future__ import annotations

import time
from typing import Any

from conftest import simple_config
from gateway import sample, scrape
from servers import http_json

CHAT = "/v1/chat/completions"
SLO_MS = 150
SLOW_MS = 400
STALE_S = 1.0


def _config(strong: str, weak: str) -> dict[str, Any]:
    return simple_config(
        {"strong": [strong], "weak": [weak]},
        pool={"health_check": {"enabled": False}},
        decisions=[
            {
                "name": "pick",
                "models": [{"model": "strong", "score": 0.9}, {"model": "weak", "score": 0.5}],
                "selection": {
                    "algorithm": "static",
                    "pool_aware": {"margin": 0.05, "latency_slo_ms": SLO_MS, "stale_s": STALE_S},
                },
            }
        ],
        routing={"default_decision": "pick"},
    )


def ask(url: str) -> tuple[str, str | None]:
    status, h, _ = http_json("POST", url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    return h["x-vsr-selected-model"], h.get("x-vsr-selection-reason")


def test_a_slowed_strong_tier_sheds_traffic_within_the_slo_and_gets_it_back(start_worker, start_router):
    strong, weak = start_worker("strong"), start_worker("weak")
    r = start_router(_config(strong.url, weak.url))
    assert [ask(r.url) for _ in range(5)] == [("strong", None)] * 5

    strong.kill()  # the strong tier slows down: the same port, now 400 ms to the first byte
    slow = start_worker("strong", "--latency-ms", str(SLOW_MS), port=strong.port)
    time.sleep(STALE_S + 0.1)  # (its fast record goes stale; either way the first slow answer rules it out)
    first = [ask(r.url) for _ in range(3)]
    assert ("weak", "slo") in first  # within 3 requests, the SLO moves traffic
    t0 = time.monotonic()
    shed = [ask(r.url) for _ in range(30)]
    took = time.monotonic() - t0
    probes = sum(m == "strong" for m, _ in shed)  # one probe per stale_s at most
    assert probes <= took / STALE_S + 1
    assert sum(m == "weak" and why == "slo" for m, why in shed) >= 30 - probes

    slow.kill()  # the strong tier recovers
    start_worker("strong", port=strong.port)
    deadline = time.monotonic() + STALE_S + 2
    while ask(r.url)[0] != "strong":  # the next probe finds it fast
        assert time.monotonic() < deadline, "strong never probed again"
        time.sleep(0.05)
    assert [ask(r.url) for _ in range(10)] == [("strong", None)] * 10

    metrics = scrape(r.url)
    assert sample(metrics, "semrouter_selection_load_switches_total", decision="pick", reason="slo") >= 25
    _, _, log = http_json("GET", r.url + "/api/v1/decisions")
    reasons = [d.get("selection_reason") for d in log["decisions"] if d["model"] == "weak"]
    assert reasons and set(reasons) == {"slo"}


def test_a_request_too_long_for_a_models_window_goes_to_one_it_fits(start_worker, start_router):
    """Issue 19, point 4: a context-length need rules models out (models[].context_window)."""
    small, large = start_worker("small"), start_worker("large")
    cfg = simple_config(
        {"small": [small.url], "large": [large.url]},
        pool={"health_check": {"enabled": False}},
        decisions=[{"name": "pick", "models": [{"model": "small", "score": 0.9}, {"model": "large", "score": 0.6}]}],
        routing={"default_decision": "pick"},
    )
    cfg["models"][0]["context_window"] = 2048
    r = start_router(cfg)

    def send(text: str, **extra: Any) -> tuple[str, str | None]:
        body = {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}
        status, h, _ = http_json("POST", r.url + CHAT, body)
        assert status == 200
        return h["x-vsr-selected-model"], h.get("x-vsr-selection-reason")

    assert send("hi") == ("small", None)
    assert send("hi", max_tokens=1024) == ("small", None)
    assert send("hi", max_tokens=4000) == ("large", "context")  # the answer alone would not fit
    assert send("please summarise: " + "lorem ipsum dolor " * 600) == ("large", "context")  # ~2,700 tokens
    _, _, log = http_json("GET", r.url + "/api/v1/decisions")
    moved = [d for d in log["decisions"] if d.get("selection_reason") == "context"]
    assert len(moved) == 2 and all(d["context_excluded"] == "small" and d["context_tokens"] > 2048 for d in moved)
