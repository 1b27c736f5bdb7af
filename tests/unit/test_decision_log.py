"""The decision log: bounded ring, JSONL file, prompt redaction, and PII values never written anywhere."""

from __future__ import annotations

import json
import os
import threading
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
from semrouter.observe.jsonl import JsonlWriter
from semrouter.signals.result import SignalResult

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


def _wait(pred: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "the writer thread did not catch up"
        time.sleep(0.005)


def _lines(path: Path) -> Callable[[], int]:
    return lambda: path.read_text().count("\n") if path.exists() else 0


def test_jsonl_is_rotated_by_size_keeping_one_backup(tmp_path: Path) -> None:
    """Records go to the file on the writer thread; past ``max_bytes`` the file becomes ``.1`` (the older
    backup is dropped). PII in a prompt is never written: only its type."""
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(DecisionLogConfig(jsonl_path=str(path), max_bytes=4096, redact_prompts=False))
    writer = log._writer
    assert writer is not None
    cfg = _config()
    n = 60
    for i in range(n):
        ctx = _ctx(f"Mail {EMAIL} about invoice {i}", cfg)
        ctx.signals["pii"] = SignalResult(True, 0.9, "EMAIL_ADDRESS")  # prefixes allowed, but not of this one
        ctx.pii_types = ["EMAIL_ADDRESS"]
        record = _record(ctx, log.cfg)
        record["n"] = i
        log.add(record)
        _wait(lambda: writer.written == log.total)  # one record per batch: the file grows in small steps
    assert writer.rotations >= 2
    log.close()
    current = [json.loads(line)["n"] for line in path.read_text().splitlines()]
    backup = [json.loads(line)["n"] for line in (tmp_path / "decisions.jsonl.1").read_text().splitlines()]
    assert not (tmp_path / "decisions.jsonl.2").exists()
    assert backup + current == list(range(n - len(backup) - len(current), n))  # the newest, in order, no gaps
    assert len(backup) + len(current) < n  # the records of the first file went with the second rotation
    assert (tmp_path / "decisions.jsonl.1").stat().st_size >= 4096 > path.stat().st_size
    for f in (path, tmp_path / "decisions.jsonl.1"):
        text = f.read_text()
        assert EMAIL not in text and "jane.doe" not in text and "invoice" not in text
    assert "EMAIL_ADDRESS" in (tmp_path / "decisions.jsonl.1").read_text()


def test_two_workers_share_and_rotate_one_file(tmp_path: Path) -> None:
    """Two writers on one path (as two server workers would be, each with its own descriptor): lines never
    tear or interleave, and each writer's surviving records are its newest, in order, whoever rotated."""
    path = tmp_path / "shared.jsonl"
    writers = [JsonlWriter(str(path), max_bytes=8192) for _ in range(2)]
    n = 400
    for i in range(n):
        for w, writer in enumerate(writers):
            assert writer.put({"w": w, "n": i, "pad": "x" * 40})
        if i % 20 == 0:
            time.sleep(0.01)  # let the threads write several batches
    for writer in writers:
        writer.close()
    assert sum(w.rotations for w in writers) >= 2 and all(w.error is None for w in writers)
    # only the file the path names is rotated, once it is full: the backup is never a fresh, short file
    assert (tmp_path / "shared.jsonl.1").stat().st_size >= 8192
    lines = (tmp_path / "shared.jsonl.1").read_text().splitlines() + path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is whole
    for w in range(2):
        mine = [r["n"] for r in records if r["w"] == w]
        assert mine and mine == list(range(n - len(mine), n))


def test_a_stuck_file_never_blocks_a_request_records_are_dropped_and_counted(tmp_path: Path) -> None:
    """The file is a FIFO nobody reads yet, so the writer thread hangs in open(): ``add`` keeps returning
    at once, fills the bounded queue and then drops (counted). Once a reader appears, close() flushes the
    queue."""
    fifo = tmp_path / "stuck.jsonl"
    os.mkfifo(fifo)
    log = DecisionLog(DecisionLogConfig(jsonl_path=str(fifo)))
    writer = log._writer
    assert writer is not None
    queue_size = writer._queue.maxsize
    for i in range(queue_size + 7):
        log.add({"n": i})
    assert log.file_dropped == 7 and log.total == queue_size + 7 and writer.written == 0
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(open(fifo, "rb").read().splitlines()))  # noqa: SIM115
    reader.start()
    log.close()  # flush: everything queued is written, then the file is closed (the reader sees EOF)
    reader.join(10)
    assert not reader.is_alive()
    assert [json.loads(line)["n"] for line in lines] == list(range(queue_size))


def test_a_new_path_by_reload_switches_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    log = DecisionLog(DecisionLogConfig(jsonl_path=str(first)))
    log.add({"n": 1})
    log.apply(DecisionLogConfig(jsonl_path=str(second)))
    log.add({"n": 2})
    log.apply(DecisionLogConfig(jsonl_path=None))
    log.add({"n": 3})
    log.close()
    for count in (_lines(first), _lines(second)):  # a replaced writer finishes its queue on its own thread
        _wait(lambda: count() == 1)  # noqa: B023  (called at once)
    assert [json.loads(x)["n"] for x in first.read_text().splitlines()] == [1]
    assert [json.loads(x)["n"] for x in second.read_text().splitlines()] == [2]
    assert log.file_dropped == 0


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
