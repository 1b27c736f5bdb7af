"""The decision log: bounded ring, JSONL file, prompt redaction, and PII values never written anywhere."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from servers import Server, http_json

from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext
from semrouter.observe.config import DecisionLogConfig
from semrouter.observe.decision_log import DecisionLog, build_record, summary
from semrouter.signals.base import SignalResult

EMAIL = "jane.doe@acme-mail.net"


def _config(**extra: Any) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "models": [{"name": "m", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
            "signals": [
                {"name": "tier", "type": "header", "header": "x-tier"},
                {"name": "domain", "type": "domain"},
            ],
            "decisions": [{"name": "default", "models": [{"model": "m"}]}],
            **extra,
        }
    )


def _ctx(text: str, cfg: RouterConfig) -> RequestContext:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), {"x-tier": "acme-corp-gold"}, cfg)
    ctx.body = body
    ctx.signals["tier"] = SignalResult(True, 1.0, "acme-corp-gold")
    ctx.signals["domain"] = SignalResult(True, 0.9, "math")
    return ctx


def _record(ctx: RequestContext, cfg: DecisionLogConfig) -> dict[str, Any]:
    return build_record(
        ctx,
        cfg,
        path="upstream",
        status=200,
        error=None,
        latency_s=0.01,
        ttft_s=None,
        usage=None,
        cost=None,
        cache="off",
    )


def test_ring_is_bounded_and_jsonl_gets_every_record(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(DecisionLogConfig(size=3, jsonl_path=str(path)))
    for i in range(5):
        log.add({"n": i, "latency_ms": float(i), "path": "upstream", "cache": "miss"})
    assert [r["n"] for r in log.recent()] == [2, 3, 4]
    assert log.total == 5
    log.close()
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [0, 1, 2, 3, 4]
    s = summary(log.recent())
    assert s["requests"] == 3 and s["cache_hit_ratio"] == 0.0 and s["latency_ms"]["p50"] == 3.0


def test_resize_keeps_newest() -> None:
    log = DecisionLog(DecisionLogConfig(size=4))
    for i in range(4):
        log.add({"n": i})
    log.apply(DecisionLogConfig(size=2))
    assert [r["n"] for r in log.recent()] == [2, 3]


def test_prompts_redacted_by_default_and_client_values_left_out() -> None:
    cfg = _config()
    record = _record(_ctx("What is 2 + 2?", cfg), DecisionLogConfig())
    assert record["prompt"] is None
    assert "What is" not in json.dumps(record)
    # a header signal's value comes from the client (tenant names, user ids): only matched/confidence
    assert record["signals"]["tier"] == {"matched": True, "confidence": 1.0}
    assert record["signals"]["domain"]["value"] == "math"
    assert "acme-corp-gold" not in json.dumps(record)


def test_prefix_only_when_allowed_and_pii_guard_found_nothing() -> None:
    cfg = _config()
    open_cfg = DecisionLogConfig(redact_prompts=False, prompt_prefix_chars=10)
    ctx = _ctx("What is 2 + 2 and why?", cfg)
    assert _record(ctx, open_cfg)["prompt"] is None  # the PII guard did not look: nothing is shown
    ctx.signals["pii"] = SignalResult(False, 0.0)
    assert _record(ctx, open_cfg)["prompt"] == "What is 2 …"
    ctx = _ctx(f"Mail {EMAIL} now", cfg)
    ctx.signals["pii"] = SignalResult(True, 0.9, "EMAIL_ADDRESS")
    ctx.pii_types = ["EMAIL_ADDRESS"]
    record = _record(ctx, open_cfg)
    assert record["prompt"] is None and record["guard"]["pii_types"] == ["EMAIL_ADDRESS"]
    assert EMAIL not in json.dumps(record)


def test_pii_value_never_written_end_to_end(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], tmp_path: Path
) -> None:
    """PII guard in allow mode (the request goes through with the email in it): the JSONL file, the ring,
    the live stream's source and /metrics carry the entity type, never the value."""
    worker = start_worker("m")
    jsonl = tmp_path / "decisions.jsonl"
    router = start_router(
        {
            "models": [{"name": "m", "endpoints": [{"url": worker.url}]}],
            "decisions": [{"name": "default", "models": [{"model": "m"}]}],
            "guards": {"pii": {"enabled": True, "action": "allow", "ner": False}},
            "observability": {
                "decision_log": {
                    "size": 2,
                    "jsonl_path": str(jsonl),
                    "redact_prompts": False,
                    "prompt_prefix_chars": 12,
                }
            },
        }
    )
    chat = "/v1/chat/completions"
    clean = {"model": "auto", "messages": [{"role": "user", "content": "Tell me a fun fact about otters"}]}
    secret = {"model": "auto", "messages": [{"role": "user", "content": f"Please write to {EMAIL} today"}]}
    for body in (clean, secret, clean):
        assert http_json("POST", router.url + chat, body)[0] == 200
    assert EMAIL in json.dumps(worker.requests())  # allow mode: the worker did get it
    ring = http_json("GET", router.url + "/api/v1/decisions")[2]
    assert ring["total"] == 3 and len(ring["decisions"]) == 2  # bounded
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(jsonl.read_text().splitlines()) < 3:
        time.sleep(0.05)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 3
    assert lines[0]["prompt"] == "Tell me a fu…"  # allowed, and the guard found nothing
    assert lines[1]["prompt"] is None and lines[1]["guard"]["pii_types"] == ["EMAIL_ADDRESS"]
    with urllib.request.urlopen(router.url + "/metrics", timeout=5) as r:
        metrics = r.read().decode()
    assert 'type="EMAIL_ADDRESS"' in metrics
    for text in (jsonl.read_text(), json.dumps(ring), metrics):
        assert EMAIL not in text and "jane.doe" not in text
