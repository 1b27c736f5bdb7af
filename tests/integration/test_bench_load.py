"""``semrouter bench load`` against real servers on loopback: what it counts is what the servers saw.

The fake worker's ``/debug/requests`` counters are unbounded (its request list keeps only the last 500), so
they are what the generator's counts are checked against. No timing is asserted beyond wide sanity bounds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import simple_config
from servers import Server, http_json

from semrouter.cli import main


def bench(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["bench", "load", *argv, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def counts(worker: Server) -> dict[str, int]:
    return http_json("GET", worker.url + "/debug/requests")[2]["counts"]  # type: ignore[no-any-return]


def test_request_count_matches_the_worker(
    capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]
) -> None:
    w = start_worker("m1")
    out = bench(capsys, "--target", f"direct={w.url}#m1", "--requests", "300", "--concurrency", "8", "--warmup", "0")
    r = out["targets"][0]
    assert (r["requests"], r["ok"], r["error_count"], r["warmup_requests"]) == (300, 300, 0, 0)
    assert counts(w)["requests"] == 300 and counts(w)["completed"] == 300
    assert r["latency_ms"]["p50"] <= r["latency_ms"]["p99"]
    assert r["client"]["cpu_us_per_request"] > 0 and r["stages"] is None  # a worker has no /metrics
    assert {b["body"]["model"] for b in w.requests()} == {"m1"}


def test_duration_mode_counts_warmup_separately(
    capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]
) -> None:
    w = start_worker("m1")
    out = bench(
        capsys, "--target", w.url, "--model", "m1", "--duration", "0.5", "--warmup", "0.3", "--concurrency", "4"
    )
    r = out["targets"][0]
    assert r["warmup_requests"] > 0 and r["requests"] > 0
    assert counts(w)["requests"] == r["requests"] + r["warmup_requests"]
    assert 0.4 < r["elapsed_s"] < 5


def test_rate_mode_holds_roughly_its_rate(
    capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]
) -> None:
    w = start_worker("m1")
    out = bench(capsys, "--target", f"{w.url}#m1", "--rate", "100", "--duration", "1", "--warmup", "0")
    r = out["targets"][0]
    assert 95 <= r["requests"] <= 105  # 100 requests scheduled 10 ms apart over one second
    assert counts(w)["requests"] == r["requests"]
    assert 0.9 < r["elapsed_s"] < 3 and r["client"]["start_lag_ms"]["p50"] is not None
    assert out["settings"]["mode"] == "open loop"


def test_poisson_arrivals_with_request_budget(
    capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]
) -> None:
    w = start_worker("m1")
    out = bench(
        capsys, "--target", f"{w.url}#m1", "--rate", "200", "--arrival", "poisson", "--requests", "50", "--warmup", "0"
    )
    assert out["targets"][0]["requests"] == 50 == counts(w)["requests"]


def test_errors_are_counted_by_status(capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]) -> None:
    w = start_worker("m1", "--fail-rate", "0.5")
    out = bench(capsys, "--target", f"{w.url}#m1", "--requests", "200", "--concurrency", "4", "--warmup", "0")
    r = out["targets"][0]
    failed = counts(w)["failed"]
    assert 40 < failed < 160  # half of 200, give or take chance
    assert r["errors"] == {"503": failed} and r["ok"] == 200 - failed and r["error_count"] == failed


def test_connection_refused_is_an_error_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    from servers import free_port

    out = bench(
        capsys, "--target", f"http://127.0.0.1:{free_port()}", "--requests", "5", "--concurrency", "1", "--warmup", "0"
    )
    r = out["targets"][0]
    assert r["ok"] == 0 and sum(r["errors"].values()) == 5 and r["latency_ms"]["p50"] is None


def test_stream_reports_ttft(capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]) -> None:
    w = start_worker("m1")
    out = bench(
        capsys, "--target", f"{w.url}#m1", "--stream", "--requests", "40", "--concurrency", "4", "--warmup", "0"
    )
    r = out["targets"][0]
    assert r["ok"] == 40 and counts(w)["completed"] == 40
    assert all(b["stream"] for b in w.requests())
    assert r["ttft_ms"]["p50"] is not None and r["ttft_ms"]["p50"] <= r["latency_ms"]["p50"]
    # a stream that carries no text at all still ends with [DONE]: complete, just without a TTFT
    empty = bench(
        capsys, "--target", f"{w.url}#m1", "--stream", "--requests", "5", "--header", "x-fake-reply:", "--warmup", "0"
    )
    r = empty["targets"][0]
    assert r["ok"] == 5 and r["ttft_ms"]["p50"] is None


def test_prompt_mix_from_file(
    capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server], tmp_path: Path
) -> None:
    w = start_worker("m1")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        '"first prompt"\n{"text": "second prompt"}\n'
        '{"messages": [{"role": "user", "content": "third"}], "max_tokens": 3}\n'
    )
    bench(
        capsys,
        "--target",
        f"{w.url}#m1",
        "--prompts",
        str(prompts),
        "--requests",
        "6",
        "--concurrency",
        "1",
        "--warmup",
        "0",
    )
    got = [(b["body"]["messages"][-1]["content"], b["body"]["max_tokens"]) for b in w.requests()]
    assert got == [("first prompt", 16), ("second prompt", 16), ("third", 3)] * 2


def test_several_targets_through_semrouter_with_ratios(
    capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server], start_router: Callable[..., Server]
) -> None:
    """Direct, semrouter passthrough and semrouter auto in one run; every request lands on the one worker."""
    w = start_worker("m1")
    router = start_router(simple_config({"m1": [w.url]}))
    targets = [
        "--target",
        f"direct={w.url}#m1",
        "--target",
        f"passthrough={router.url}#m1",
        "--target",
        f"auto={router.url}#auto",
    ]
    assert main(["bench", "load", *targets, "--requests", "60", "--concurrency", "4", "--warmup", "0"]) == 0
    table = capsys.readouterr().out
    assert "| direct | 60 |" in table and "| passthrough | 60 |" in table and "| auto | 60 |" in table
    assert counts(w)["requests"] == 180
    out = bench(capsys, *targets, "--requests", "30", "--concurrency", "2", "--warmup", "0")
    assert [t["name"] for t in out["targets"]] == ["direct", "passthrough", "auto"]
    assert out["targets"][0]["vs_first"]["rps"] == 1.0 and all(t["vs_first"]["rps"] > 0 for t in out["targets"])
    assert all(t["ok"] == 30 for t in out["targets"])
    # semrouter's own per-stage breakdown, scraped from its /metrics around the run: the worker has none
    assert out["targets"][0]["stages"] is None
    auto = out["targets"][2]["stages"]["semrouter_stage_duration_seconds"]
    for stage in ("parse", "decision", "selection", "enrich"):
        assert auto[stage]["count"] == 30 and auto[stage]["p50_ms"] is not None, stage


def test_spec_file(capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server], tmp_path: Path) -> None:
    w = start_worker("m1")
    spec = tmp_path / "load.yaml"
    spec.write_text(f"requests: 20\nconcurrency: 2\nwarmup: 0\ntargets:\n  - {{name: w, url: '{w.url}', model: m1}}\n")
    out = bench(capsys, "--spec", str(spec))
    assert out["targets"][0]["name"] == "w" and out["targets"][0]["ok"] == 20 == counts(w)["requests"]
