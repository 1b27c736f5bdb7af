"""The cascade through the real HTTP proxy: cheap worker first, strong worker when the cheap answer looks bad.

Two fake workers play the models; ``x-fake-cue: small=<cue>`` makes only the cheap one refuse, answer
empty, truncate, answer with low log-probabilities or answer differently each time. One router serves every
test of the module (start-up costs seconds); each test clears the workers' request lists.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway import sample, scrape
from servers import Server, fake_worker, http_json, router, write_config

PRICES = {"small": (0.1, 0.2), "large": (2.0, 8.0)}


def cascade_config(small: str, large: str, log: Path) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": name,
                "endpoints": [{"url": url}],
                "pricing": {"prompt_per_1m": PRICES[name][0], "completion_per_1m": PRICES[name][1]},
            }
            for name, url in (("large", large), ("small", small))  # config order is not price order
        ],
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "signals": [{"name": "twice", "type": "keyword", "keywords": ["sample twice"]}],
        "decisions": [
            {
                "name": "default",
                "models": [{"model": "large"}, {"model": "small"}],
                "cascade": {"min_mean_logprob": -1.0, "stream_window_tokens": 8},
            },
            {
                "name": "twice",
                "priority": 10,
                "rules": {"signal": "twice"},
                "models": [{"model": "large"}],
                "cascade": {"models": ["small", "large"], "escalate_on": ["disagreement"], "min_agreement": 0.5},
            },
        ],
        "reload": {"enabled": False},
        "observability": {"decision_log": {"jsonl_path": str(log)}},
    }


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, Server, Path]]:
    tmp = tmp_path_factory.mktemp("cascade")
    # 5 ms a token: a stream arrives event by event, so the window (40 ms) closes long before the answer ends
    small = fake_worker("small", None, "--reply-tokens", "40", "--tokens-per-s", "200", log=tmp / "small.log").start()
    large = fake_worker("large", None, "--reply-tokens", "12", log=tmp / "large.log").start()
    log = tmp / "decisions.jsonl"
    path = write_config(tmp / "router.yaml", cascade_config(small.url, large.url, log))
    r = router(path, log=tmp / "router.log").start()
    try:
        yield small, large, r, log
    finally:
        for s in (r, small, large):
            s.kill()


def chat(url: str, cue: str | None = None, text: str = "what is 2+2?", **body: Any) -> tuple[int, dict[str, str], Any]:
    headers = {"x-fake-cue": cue} if cue else {}
    return http_json(
        "POST",
        url + "/v1/chat/completions",
        {"model": "auto", "messages": [{"role": "user", "content": text}], **body},
        headers,
    )


def stream(url: str, cue: str | None = None, **body: Any) -> tuple[dict[str, str], list[bytes]]:
    req = urllib.request.Request(
        url + "/v1/chat/completions",
        method="POST",
        data=json.dumps(
            {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi there"}], **body}
        ).encode(),
        headers={"content-type": "application/json", **({"x-fake-cue": cue} if cue else {})},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        events = [line.strip() for line in resp if line.startswith(b"data: ")]
    return headers, events


def content(events: list[bytes]) -> str:
    out = ""
    for e in events:
        if e == b"data: [DONE]":
            continue
        for choice in json.loads(e[6:]).get("choices", []):
            out += choice.get("delta", {}).get("content") or ""
    return out


@pytest.fixture
def cleared(fleet: tuple[Server, Server, Server, Path]) -> tuple[Server, Server, Server, Path]:
    for s in fleet[:2]:
        s.clear()
    return fleet


def test_good_answer_is_accepted_from_the_cheap_model(cleared):
    small, large, r, _ = cleared
    status, headers, body = chat(r.url)
    assert status == 200
    assert headers["x-vsr-cascade"] == "accepted:small"
    assert headers["x-vsr-selected-model"] == "small"
    assert body["choices"][0]["message"]["content"].startswith("Answer from small")
    assert "logprobs" not in body["choices"][0]  # asked for the judge, not by the client: taken out again
    [sent] = small.requests()
    assert sent["body"]["logprobs"] is True and sent["body"]["top_logprobs"] == 1
    assert large.requests() == []


def test_client_asking_for_logprobs_keeps_them(cleared):
    _, _, r, _ = cleared
    status, headers, body = chat(r.url, logprobs=True)
    assert status == 200 and headers["x-vsr-cascade"] == "accepted:small"
    assert body["choices"][0]["logprobs"]["content"][0]["logprob"] == pytest.approx(-0.05)


@pytest.mark.parametrize(
    ("cue", "reason"),
    [("refuse", "refusal"), ("empty", "empty"), ("truncate", "truncated"), ("unsure", "low_logprob")],
)
def test_each_cue_escalates_to_the_strong_model(cleared, cue, reason):
    small, large, r, _ = cleared
    status, headers, body = chat(r.url, cue=f"small={cue}")
    assert status == 200
    assert headers["x-vsr-cascade"] == f"escalated:{reason}"
    assert headers["x-vsr-cascade-path"] == "small,large"
    assert headers["x-vsr-selected-model"] == "large"
    assert body["choices"][0]["message"]["content"].startswith("Answer from large")
    assert len(small.requests()) == 1 and len(large.requests()) == 1
    assert "logprobs" not in large.requests()[0]["body"]  # the last model is not judged: nothing asked of it


def test_cheap_worker_error_escalates(cleared):
    _, _, r, _ = cleared
    status, headers, body = chat(r.url, cue="small=fail")
    assert status == 200 and headers["x-vsr-cascade"] == "escalated:error"
    assert body["choices"][0]["message"]["content"].startswith("Answer from large")
    headers, events = stream(r.url, cue="small=fail")
    assert headers["x-vsr-cascade"] == "escalated:error" and content(events).startswith("Answer from large")


def test_several_choices_are_not_cascaded(cleared):
    small, _, r, _ = cleared
    status, headers, _ = chat(r.url, n=2)
    assert status == 200 and headers["x-vsr-cascade"] == "skipped:n>1"
    assert headers["x-vsr-selected-model"] == "large"  # the selector's own choice, untouched
    assert small.requests() == []


def test_a_model_named_by_the_client_is_not_cascaded(cleared):
    small, large, r, _ = cleared
    status, headers, _ = http_json(
        "POST",
        r.url + "/v1/chat/completions",
        {"model": "large", "messages": [{"role": "user", "content": "hi"}]},
        {"x-fake-cue": "large=refuse"},
    )
    assert status == 200 and "x-vsr-cascade" not in headers
    assert small.requests() == [] and len(large.requests()) == 1


def test_client_leaving_during_the_window_stops_the_cheap_worker(cleared):
    small, large, r, _ = cleared
    body = json.dumps(
        {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 40}
    ).encode()
    sock = socket.create_connection(("127.0.0.1", r.port))
    # 1 s before the cheap worker's first token: the client leaves while the router holds the window
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"x-fake-latency-ms: 1000\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not small.requests():
        time.sleep(0.02)
    sock.close()
    while time.monotonic() < deadline:
        [rec] = small.requests()
        if rec["cancelled"] or rec["completed"]:
            break
        time.sleep(0.05)
    assert rec["cancelled"] is True and rec["completed"] is False
    assert large.requests() == []
    endpoints = http_json("GET", r.url + "/api/v1/status")[2]["endpoints"]
    assert [e["outstanding"] for e in endpoints] == [0, 0]


def test_truncation_the_client_asked_for_is_not_escalated(cleared):
    _, large, r, _ = cleared
    status, headers, _ = chat(r.url, max_tokens=3)
    assert status == 200 and headers["x-vsr-cascade"] == "accepted:small"
    assert large.requests() == []


def test_two_cheap_samples_that_disagree_escalate(cleared):
    small, large, r, _ = cleared
    status, headers, _ = chat(r.url, text="please sample twice", cue="small=random")
    assert status == 200 and headers["x-vsr-cascade"] == "escalated:disagreement"
    assert len(small.requests()) == 2 and len(large.requests()) == 1
    small.clear()
    large.clear()
    status, headers, _ = chat(r.url, text="please sample twice")  # deterministic answers agree
    assert headers["x-vsr-cascade"] == "accepted:small"
    assert len(small.requests()) == 2 and large.requests() == []


def test_stream_good_window_commits_to_the_cheap_model(cleared):
    small, large, r, _ = cleared
    headers, events = stream(r.url, stream_options={"include_usage": True})
    assert headers["x-vsr-cascade"] == "accepted:small"
    assert events[-1] == b"data: [DONE]"
    assert content(events).startswith("Answer from small") and content(events).endswith(" w39")
    assert not any(b'"logprobs"' in e for e in events)
    assert large.requests() == []
    assert small.requests()[0]["completed"] is True


@pytest.mark.parametrize(("cue", "reason"), [("refuse", "refusal"), ("empty", "empty"), ("unsure", "low_logprob")])
def test_stream_trouble_in_the_window_escalates_before_anything_is_sent(cleared, cue, reason):
    _, large, r, _ = cleared
    headers, events = stream(r.url, cue=f"small={cue}")
    assert headers["x-vsr-cascade"] == f"escalated:{reason}"
    text = content(events)
    assert text.startswith("Answer from large") and "sorry" not in text  # nothing of the cheap answer leaked
    assert events[-1] == b"data: [DONE]"
    assert len(large.requests()) == 1


def test_trouble_after_the_window_is_not_judged(cleared):
    """The window is 8 tokens of 40: a cut-off answer (finish_reason length at the end) is seen only after
    the stream was committed, so it is relayed as it is, like any stream."""
    _, large, r, _ = cleared
    headers, events = stream(r.url, cue="small=truncate")
    assert headers["x-vsr-cascade"] == "accepted:small"
    finishes = [c.get("finish_reason") for e in events[:-1] for c in json.loads(e[6:])["choices"]]
    assert finishes[-1] == "length"
    assert large.requests() == []


def test_metrics_and_decision_log_count_escalations_and_their_cost(cleared):
    _, _, r, log = cleared
    before = scrape(r.url)
    chat(r.url, cue="small=refuse")
    chat(r.url)
    time.sleep(0.3)
    after = scrape(r.url)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("semrouter_cascade_total", outcome="escalated", reason="refusal") == 1
    assert delta("semrouter_cascade_total", outcome="accepted") == 1
    discarded_out = delta("semrouter_cascade_discarded_tokens_total", model="small", direction="output")
    assert discarded_out > 0
    discarded_in = delta("semrouter_cascade_discarded_tokens_total", model="small", direction="input")
    assert discarded_in > 0  # the prompt was paid for too
    cost = delta("semrouter_cascade_discarded_cost_dollars_total", model="small")
    expected = (discarded_in * PRICES["small"][0] + discarded_out * PRICES["small"][1]) / 1e6
    assert cost == pytest.approx(expected, rel=1e-6)
    assert delta("semrouter_tokens_total", model="small", direction="output") >= discarded_out  # counted there too
    deadline = time.monotonic() + 5
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        if len(records) >= 2 and records[-1]["cascade"] is not None:
            break
        time.sleep(0.1)
    endpoints = http_json("GET", r.url + "/api/v1/status")[2]["endpoints"]
    assert [e["outstanding"] for e in endpoints] == [0, 0]  # every dropped answer released its endpoint
    escalated = [r for r in records if r["cascade"] and r["cascade"]["outcome"] == "escalated"][-1]
    assert escalated["model"] == "large" and escalated["cascade"]["reason"] == "refusal"
    [drop] = escalated["cascade"]["discarded"]
    assert drop["model"] == "small" and drop["completion_tokens"] > 0
    final_cost = (
        escalated["tokens"]["input"] * PRICES["large"][0] + escalated["tokens"]["output"] * PRICES["large"][1]
    ) / 1e6
    assert escalated["cost"] == pytest.approx(final_cost + drop["cost"], rel=1e-4)
