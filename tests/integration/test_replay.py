"""Replay: a real router run writes a decision log, and ``semrouter replay`` re-decides it under a changed config.

The router routes "urgent" requests (a keyword signal) to the small model and the rest to the large one.
The new config sends urgent requests to the large model and puts a small-first cascade on the rest, so
every logged request should move; the report must say so per decision and per model, price the change
from the logged token usage, and score it where outcomes are known.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from servers import http_json, write_config

from semrouter.config.schema import RouterConfig
from semrouter.replay import parse_reward, quality, read_jsonl, replay, summarize

PRICING = {
    "small": {"prompt_per_1m": 0.1, "completion_per_1m": 0.2},
    "large": {"prompt_per_1m": 2, "completion_per_1m": 8},
}
URGENT = ["URGENT: the deploy is down, how do I roll back?", "urgent - printer on fire??", "this is urgent pls reply"]
CALM = ["whats a good name for a cat", "Explain TCP slow start to a new hire, briefly.", "2+2"]


def old_config(small: str, large: str, log: Path) -> dict[str, Any]:
    return {
        "models": [
            {"name": "small", "endpoints": [{"url": small}], "pricing": PRICING["small"]},
            {"name": "large", "endpoints": [{"url": large}], "pricing": PRICING["large"]},
        ],
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "signals": [{"name": "urgent", "type": "keyword", "keywords": ["urgent"]}],
        "decisions": [
            {"name": "urgent", "priority": 10, "rules": {"signal": "urgent"}, "models": [{"model": "small"}]},
            {"name": "default", "models": [{"model": "large"}]},
        ],
        "reload": {"enabled": False},
        "observability": {"decision_log": {"jsonl_path": str(log)}},
    }


def new_config(old: dict[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(old)
    cfg["decisions"][0]["models"] = [{"model": "large"}]
    cfg["decisions"][1]["models"] = [{"model": "large"}, {"model": "small"}]
    cfg["decisions"][1]["cascade"] = {}
    return cfg


@pytest.fixture
def logged(start_worker, start_router, tmp_path: Path) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """A decision log from a real router run, the router's config, and the requests sent (with their ids)."""
    small, large = start_worker("small"), start_worker("large")
    log = tmp_path / "decisions.jsonl"
    cfg = old_config(small.url, large.url, log)
    r = start_router(cfg)
    sent = []
    for i, text in enumerate(URGENT + CALM):
        status, headers, _ = http_json(
            "POST", r.url + "/v1/chat/completions", {"model": "auto", "messages": [{"role": "user", "content": text}]}
        )
        assert status == 200
        # labels written for the test: the small model "gets" the calm questions right, the large one all
        sent.append(
            {"request_id": headers["x-request-id"], "text": text, "small_correct": i >= 3, "large_correct": True}
        )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not log.exists() or len(log.read_text().splitlines()) < len(sent)):
        time.sleep(0.05)
    records = read_jsonl(str(log))
    assert len(records) == len(sent)
    assert [rec["model"] for rec in records] == ["small"] * 3 + ["large"] * 3
    assert "prompt" not in json.dumps([rec["prompt"] for rec in records if rec["prompt"]])  # redacted by default
    return log, cfg, sent


def test_replay_by_logged_signals_reports_every_change(logged) -> None:
    log, cfg, _ = logged
    rows = _run(new_config(cfg), read_jsonl(str(log)))
    assert [r.mode for r in rows] == ["signals"] * 6
    assert [r.new_model for r in rows] == ["large"] * 3 + ["small"] * 3  # the cascade starts with small
    assert all(r.changed for r in rows)
    s = summarize(rows)
    assert s["changed"] == 6 and s["model_moves"] == {"small -> large": 3, "large -> small": 3}
    assert s["per_decision"]["urgent"] == {"requests": 3, "changed": 3, "to": {"urgent/large": 3}}
    assert s["per_model"] == {"large": {"old": 3, "new": 3}, "small": {"old": 3, "new": 3}}
    assert s["cascade_rows"] == 3
    # priced from the logged tokens: the same tokens at the new model's prices
    for r in rows:
        p = PRICING[r.new_model or ""]
        assert r.new_cost == pytest.approx(
            (r.tokens_in * p["prompt_per_1m"] + r.tokens_out * p["completion_per_1m"]) / 1e6
        )
    assert s["cost"]["new_max"] > s["cost"]["new"]  # escalations would add the large model's cost


def test_replay_unchanged_config_changes_nothing(logged) -> None:
    log, cfg, _ = logged
    s = summarize(_run(cfg, read_jsonl(str(log))))
    assert s["changed"] == 0 and s["cost"]["new"] == pytest.approx(s["cost"]["old"], rel=1e-3)


def test_replay_cli_by_prompt_with_labels_and_report(logged, tmp_path: Path) -> None:
    log, cfg, sent = logged
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(s) + "\n" for s in sent))
    new = write_config(tmp_path / "new.yaml", new_config(cfg))
    report = tmp_path / "report"
    args = ["--log", str(log), "--config", str(new), "--requests", str(requests), "--json", "--report", str(report)]
    out = subprocess.run(
        [sys.executable, "-m", "semrouter", "replay", *args, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["modes"] == {"prompt": 6} and s["changed"] == 6
    # labels: logged policy small on urgent (wrong) + large on calm = 3/6; new: large on urgent + small on calm = 6/6
    assert s["quality"]["labels"] == {
        "estimator": "exact on rows labelled for both the logged and the new model",
        "rows": 6,
        "coverage": 1.0,
        "old": 0.5,
        "new": 1.0,
    }
    assert {p.name for p in report.iterdir()} >= {"rows.jsonl", "summary.json", "summary.txt"}
    rows = [json.loads(line) for line in (report / "rows.jsonl").read_text().splitlines()]
    assert rows[0]["old"]["model"] == "small" and rows[0]["new"]["model"] == "large"
    text = subprocess.run(
        [sys.executable, "-m", "semrouter", "replay", "--log", str(log), "--config", str(new), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "would change: 6" in text.stdout and "small -> large: 3" in text.stdout


def _run(cfg: dict[str, Any], records: list[dict[str, Any]], requests: dict[str, Any] | None = None) -> list[Any]:
    import asyncio

    return asyncio.run(replay(RouterConfig.model_validate(cfg), records, requests))


def test_feedback_estimators_say_what_they_cover() -> None:
    """Feedback is known for the logged model only: the overlap estimator uses rows where the choice stays,
    the direct method the mean reward of the new model in the log; a model never logged is not covered."""
    from semrouter.replay import Row

    def row(old: str, new: str, reward: float) -> Row:
        r = Row("id", "d", old, "math", 10, 10, 0.0, mode="signals", new_decision="d", new_model=new, reward=reward)
        return r

    rows = [row("a", "a", 1.0), row("a", "b", 0.0), row("b", "b", 0.5), row("b", "c", 1.0)]
    q = quality(rows)["feedback"]
    assert q["old"] == pytest.approx(0.625)
    assert q["overlap"] == {**q["overlap"], "new": 0.75, "coverage": 0.5}
    # direct method: b's mean logged reward is 0.75 (0.5 and 1.0); c was never logged: 3 of 4 rows covered
    assert q["direct_method"]["new"] == pytest.approx((0.5 + 0.75 + 0.75) / 3, abs=1e-4)
    assert q["direct_method"]["coverage"] == 0.75


@pytest.mark.parametrize(
    ("value", "reward"),
    [(-1, 0.0), (1, 1.0), (0.25, 0.25), (5, 1.0), (3, 0.5), ("good", 1.0), ("bad", 0.0), ({"rating": -1}, 0.0)],
)
def test_logged_outcomes_become_rewards(value: Any, reward: float) -> None:
    assert parse_reward(value) == reward


def test_bad_log_line_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        read_jsonl(str(path))
