"""Feedback and the bandit through the real router on loopback (issue 19, point 3): two fake workers; one
gets negative feedback (or its worker dies) and its share falls within a bounded number of requests,
then comes back when it heals. Also the feedback API's answers, its metric, the decision log's outcome,
and the bandit's state saved on stop."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import simple_config
from gateway import sample, scrape
from servers import http_json

CHAT = "/v1/chat/completions"
TOKEN = "fb-secret"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _config(a: str, b: str, tmp_path: Any, **feedback: Any) -> dict[str, Any]:
    cfg = simple_config(
        {"a": [a], "b": [b]},
        pool={
            "health_check": {"enabled": False},
            "max_retries": 0,
            "ejection": {"consecutive_failures": 1, "base_seconds": 0.3, "max_seconds": 0.3},
        },
        decisions=[
            {
                "name": "pick",
                "models": [{"model": "a", "score": 0.9}, {"model": "b", "score": 0.6}],
                "selection": {"algorithm": "bandit", "cost_weight": 0},
            }
        ],
    )
    cfg["routing"] = {
        "default_decision": "pick",
        "feedback": {"token_env": "SEMROUTER_FEEDBACK_TOKEN", "state_path": str(tmp_path / "bandit.json"), **feedback},
    }
    cfg["server"] = {"admin_token_env": "SEMROUTER_ADMIN_TOKEN"}
    return cfg


def ask(url: str, i: int) -> tuple[int, dict[str, str]]:
    status, headers, _ = http_json(
        "POST", url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": f"q{i}"}]}
    )
    return status, headers


def feedback(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, out = http_json("POST", url + "/api/v1/feedback", body, headers=AUTH if headers is None else headers)
    return status, out


def _env() -> dict[str, str]:
    return {"SEMROUTER_FEEDBACK_TOKEN": TOKEN, "SEMROUTER_ADMIN_TOKEN": "admin-secret"}


def test_negative_feedback_moves_traffic_away_and_it_returns_when_it_heals(start_worker, start_router, tmp_path):
    a, b = start_worker("a"), start_worker("b")
    r = start_router(_config(a.url, b.url, tmp_path), env=_env())

    sent = {"bad": 0}

    def phase(n: int, verdict_for_a: str | None) -> list[str]:
        picks = []
        for i in range(n):
            status, h = ask(r.url, i)
            assert status == 200
            model = h["x-vsr-selected-model"]
            picks.append(model)
            if model == "a" and verdict_for_a is not None:
                assert feedback(r.url, {"request_id": h["x-request-id"], "label": verdict_for_a})[0] == 200
                sent[verdict_for_a] += 1
        return picks

    assert phase(20, None).count("a") >= 16  # the better prior takes most traffic
    phase(10, "bad")  # within 10 requests of "a" answering badly ...
    assert phase(40, "bad").count("a") <= 8  # ... it gets at most about the exploration share (10%)
    phase(40, None)  # "a" heals (no more complaints): within 40 requests ...
    assert phase(40, None).count("a") >= 28  # ... most of its traffic is back

    # the API's answers
    _, h = ask(r.url, 999)
    rid = h["x-request-id"]
    assert feedback(r.url, {"request_id": rid, "rating": 1}, headers={})[0] == 401
    status, out = feedback(r.url, {"request_id": rid, "rating": 9})
    assert status == 400 and out["error"]["param"] == "rating"
    status, out = feedback(r.url, {"request_id": rid})
    assert status == 400 and out["error"]["param"] == "rating"
    status, out = feedback(r.url, {"rating": 1})
    assert status == 400 and out["error"]["param"] == "request_id"
    assert feedback(r.url, b"{oops")[0] == 400
    status, out = feedback(r.url, {"request_id": rid, "rating": 5, "scale": "1-5"})
    assert status == 200 and out == {
        "request_id": rid,
        "decision": "pick",
        "model": h["x-vsr-selected-model"],
        "reward": 1.0,
        "learned": True,
    }
    assert feedback(r.url, {"request_id": rid, "label": "good"})[0] == 409
    assert feedback(r.url, {"request_id": "never-seen", "label": "good"})[0] == 404

    metrics = scrape(r.url)
    assert sample(metrics, "semrouter_feedback_total", kind="explicit", verdict="bad") == sent["bad"] >= 3
    assert sample(metrics, "semrouter_feedback_total", kind="implicit", verdict="good") >= 100
    assert sample(metrics, "semrouter_bandit_explorations_total", decision="pick") >= 1
    _, _, log = http_json("GET", r.url + "/api/v1/decisions", headers={"authorization": "Bearer admin-secret"})
    assert {d["outcome"] for d in log["decisions"]} == {"ok"}
    assert any(d.get("selection_reason") == "explore" for d in log["decisions"])

    r.stop()  # SIGTERM: the state is saved
    state = json.loads((tmp_path / "bandit.json").read_text())
    arms = state["decisions"]["pick"]["arms"]
    assert set(arms) == {"a", "b"} and all(s > 0 and f > 0 for s, f, _ in arms.values())


def test_a_failing_worker_loses_its_share_and_wins_it_back(start_worker, start_router, tmp_path):
    a, b = start_worker("a"), start_worker("b")
    r = start_router(_config(a.url, b.url, tmp_path), env=_env())
    assert [ask(r.url, i)[1]["x-vsr-selected-model"] for i in range(20)].count("a") >= 16
    a.kill()  # "a" starts failing: connection refused, then ejected; no fallback, so its requests get 503
    results = [ask(r.url, i) for i in range(50)]
    assert sum(h["x-vsr-selected-model"] == "a" for _, h in results[10:]) <= 8  # from 10 requests in
    assert {s for s, h in results if h["x-vsr-selected-model"] == "b"} == {200}
    start_worker("a", port=a.port)  # healed
    time.sleep(0.4)  # past the ejection
    for i in range(40):
        ask(r.url, i)
    picks = [ask(r.url, i)[1]["x-vsr-selected-model"] for i in range(40)]
    assert picks.count("a") >= 28
    _, _, log = http_json("GET", r.url + "/api/v1/decisions", headers={"authorization": "Bearer admin-secret"})
    assert "error" in {d["outcome"] for d in log["decisions"]}
