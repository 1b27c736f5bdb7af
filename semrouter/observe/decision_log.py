"""The decision log: what routing decided for recent requests, for people (dashboard) and files (JSONL).

A bounded ring in memory (the dashboard's history and ``GET /api/v1/decisions``), fan-out to live
subscribers (the dashboard's server-sent event stream), and optionally one JSON line per decision
appended to a size-rotated file by a background thread (:mod:`semrouter.observe.jsonl`).

With ``server.workers > 1`` each worker process has its own ring and stream, so the dashboard shows the
decisions of the worker that served the page (it says which); the JSONL file and the Prometheus metrics
cover every worker.

What a record never holds: prompt text (unless ``redact_prompts: false``, and then only a short prefix of
a prompt the PII guard checked and found clean), PII values (only entity types), the values of header
and metadata signals (they carry user ids and tenant names), or signal details (spans, neighbours).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from semrouter.observe.config import DecisionLogConfig
from semrouter.observe.jsonl import JsonlWriter

if TYPE_CHECKING:
    from semrouter.context import RequestContext

# Signal types whose value comes from the router itself (a label, a level, a count), never from the client.
_VALUE_SAFE = frozenset(
    {"domain", "complexity", "context_length", "keyword", "similarity", "pii", "jailbreak", "harmful"}
)
_SUBSCRIBER_QUEUE = 256


def prompt_prefix(ctx: RequestContext, cfg: DecisionLogConfig) -> str | None:
    """The prompt prefix a record may show: only when allowed and the PII guard looked and found nothing."""
    if cfg.redact_prompts:
        return None
    pii = ctx.signals.get("pii")
    if pii is None or pii.matched or ctx.pii_types:
        return None
    text = ctx.text
    return text[: cfg.prompt_prefix_chars] + ("…" if len(text) > cfg.prompt_prefix_chars else "")


def build_record(
    ctx: RequestContext,
    cfg: DecisionLogConfig,
    *,
    path: str,
    status: int,
    error: str | None,
    latency_s: float,
    ttft_s: float | None,
    usage: dict[str, Any] | None,
    cost: float | None,
    cache: str,
) -> dict[str, Any]:
    types = {s.name: s.type for s in ctx.config.signals}
    signals: dict[str, Any] = {}
    for name, r in ctx.signals.items():
        entry: dict[str, Any] = {"matched": r.matched, "confidence": round(r.confidence, 4)}
        if r.value is not None and types.get(name, name) in _VALUE_SAFE:
            entry["value"] = r.value
        signals[name] = entry
    jb = ctx.signals.get("jailbreak")
    guard: dict[str, Any] = {}
    if "pii" in ctx.signals:
        guard["pii_types"] = list(ctx.pii_types)
        guard["pii_action"] = ctx.response_headers.get("x-vsr-pii-action")
    if jb is not None:
        guard["jailbreak"] = {"detected": jb.matched, "score": round(jb.confidence, 4), "type": jb.value}
    harm = ctx.signals.get("harmful")
    if harm is not None:
        guard["harmful"] = {
            "detected": bool(harm.detail.get("route_hit", harm.matched)),
            "score": round(harm.confidence, 4),
            "category": harm.value,
            "action": harm.detail.get("action"),
        }
    note = ctx.upstream.cascade
    if note is not None and note.discarded:  # the request's cost includes the answers a cascade dropped
        cost = (cost or 0.0) + note.discarded_cost
    stages = {rec.stage: round(rec.ms, 3) for rec in ctx.records}
    embedding = ctx.timings.embedding_s()
    if embedding is not None:
        stages["embedding"] = round(embedding * 1e3, 3)
    record: dict[str, Any] = {
        "ts": round(time.time(), 3),
        "request_id": ctx.request_id,
        "worker": os.getpid(),  # several server workers may share one JSONL file
        "api": ctx.api.value,
        # the tenant only when it comes from the tenancy config (a key, or a trusted client): a header anyone
        # may set is a value like the header signals', never recorded
        "tenant": ctx.tenant if ctx.config.tenancy is not None else None,
        "session": ctx.obs.get("session"),  # session-stable routing: new, kept, held, switched
        "limit": ctx.obs.get("limit"),  # the tenant limit that refused the request (429), if one did
        "requested_model": ctx.requested_model or None,
        "routed": ctx.routed,
        "decision": ctx.decision.name if ctx.decision is not None else None,
        "decision_confidence": round(ctx.decision_confidence, 4),
        "category": ctx.category,
        "model": ctx.model,
        "reasoning": ctx.reasoning,
        "reasoning_effort": ctx.reasoning_effort if ctx.reasoning else None,
        "system_prompt_injected": ctx.system_prompt_injected,
        "signals": signals,
        "selection_scores": {k: round(v, 4) for k, v in ctx.selection_scores.items()},
        "tools": ctx.tools_selected,
        "cache": cache,
        # why a cache candidate was served or refused: its cosine and the verifier's P(same question)
        "cache_similarity": ctx.obs.get("cache_similarity"),
        "cache_verifier": ctx.obs.get("cache_verifier"),
        # a hit that followed a verified duplicate stored under another decision: the decision routing chose
        # ("decision" is the adopted one)
        "cache_followed_from": ctx.obs.get("cache_followed_from"),
        "guard": guard,
        "path": path,
        "status": status,
        "error": error,
        "endpoint": ctx.endpoint.url if ctx.endpoint is not None else None,
        "latency_ms": round(latency_s * 1e3, 3),
        "ttft_ms": round(ttft_s * 1e3, 3) if ttft_s is not None else None,
        "stages_ms": stages,
        "tokens": {"input": usage.get("prompt_tokens"), "output": usage.get("completion_tokens")} if usage else None,
        "cost": round(cost, 8) if cost is not None else None,
        "cascade": note.to_record() if note is not None else None,
        "faults": list(ctx.faults),
        "prompt": prompt_prefix(ctx, cfg),
    }
    return record


class DecisionLog:
    def __init__(self, cfg: DecisionLogConfig) -> None:
        self.cfg = cfg
        self.ring: deque[dict[str, Any]] = deque(maxlen=cfg.size)
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.total = 0
        self.dropped = 0  # records a slow subscriber did not take
        self.file_dropped = 0  # records the file writer had no room for (it fell behind, or stopped on an error)
        self._writer: JsonlWriter | None = None
        self.apply(cfg)

    def apply(self, cfg: DecisionLogConfig) -> None:
        """New settings (config reload): resize the ring keeping the newest records, reopen the file."""
        self.cfg = cfg
        if self.ring.maxlen != cfg.size:
            self.ring = deque(self.ring, maxlen=cfg.size)
        writer = self._writer
        if writer is not None and writer.path == cfg.jsonl_path and writer.error is None:
            writer.max_bytes = cfg.max_bytes
        elif cfg.jsonl_path or writer is not None:
            if writer is not None:
                writer.close(timeout=None)  # it finishes its queue on its own thread: a reload never waits on disk
            self._writer = JsonlWriter(cfg.jsonl_path, cfg.max_bytes) if cfg.jsonl_path else None

    def add(self, record: dict[str, Any]) -> None:
        self.total += 1
        self.ring.append(record)
        if self._writer is not None and not self._writer.put(record):
            self.file_dropped += 1
        for q in self.subscribers:
            try:
                q.put_nowait(record)
            except asyncio.QueueFull:
                self.dropped += 1

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        items = list(self.ring)
        return items[-limit:] if limit else items

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_SUBSCRIBER_QUEUE)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self.subscribers.discard(q)

    def close(self, timeout: float = 5.0) -> None:
        """Flush the file (waits up to ``timeout`` for the writer to write what is queued) and stop writing."""
        if self._writer is not None:
            self._writer.close(timeout)
            self._writer = None


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and latency percentiles over ``records`` (the ring): the dashboard's headline numbers."""

    def count(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in records:
            v = str(r.get(key) or "none")
            out[v] = out.get(v, 0) + 1
        return out

    lat = sorted(r["latency_ms"] for r in records)

    def pct(p: float) -> float | None:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None

    cache = count("cache")
    hits = cache.get("hit", 0)
    looked = hits + cache.get("miss", 0)
    return {
        "requests": len(records),
        "by_decision": count("decision"),
        "by_model": count("model"),
        "by_category": count("category"),
        "by_path": count("path"),
        "cache_hit_ratio": round(hits / looked, 4) if looked else None,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99)},
        "blocked": sum(1 for r in records if r.get("path") == "blocked"),
    }
