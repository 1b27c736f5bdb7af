"""Observability settings: Prometheus metrics, OpenTelemetry tracing, the decision log and the dashboard.

Kept apart from the main schema (like the guard and cache settings) so this area can grow without
touching the file everyone edits; :mod:`semrouter.config.schema` only mounts it as ``observability``.
"""

from __future__ import annotations

from pydantic import Field

from semrouter.config.base import Strict


class MetricsConfig(Strict):
    enabled: bool = Field(True, description="Serve Prometheus metrics at GET /metrics.")
    state_interval_s: float = Field(
        5.0,
        gt=0,
        description="With several server workers: how often each worker copies its cache and endpoint state into "
        "the shared metric files (a scrape refreshes the worker that serves it at once).",
    )


class TracingConfig(Strict):
    enabled: bool = False
    endpoint: str = Field(
        "http://127.0.0.1:4318",
        pattern=r"^https?://",
        description="OTLP/HTTP collector (JSON encoding): a base address gets /v1/traces appended; https for TLS.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every export, e.g. an authorization header for a hosted backend."
    )
    timeout_s: float = Field(10.0, gt=0, description="Per batch, retries included.")
    sampling_ratio: float = Field(
        1.0, ge=0, le=1, description="Share of new traces sampled; a client's traceparent decides for its trace."
    )
    service_name: str = "semrouter"


class DecisionLogConfig(Strict):
    size: int = Field(1000, ge=1, description="Recent decisions kept in memory (the dashboard's history).")
    jsonl_path: str | None = Field(
        None,
        description="Also append every decision to this JSONL file (on a background thread; several server "
        "workers may share one file).",
    )
    max_bytes: int = Field(
        100 * 2**20,
        ge=1024,
        description="Rotate the JSONL file when it reaches this size: it becomes <path>.1 (one backup, the older "
        "one is dropped) and a new file is started.",
    )
    redact_prompts: bool = Field(
        True,
        description="true: no prompt text at all. false: a short prefix, but only when the PII guard checked the "
        "prompt and found nothing.",
    )
    prompt_prefix_chars: int = Field(60, ge=1, le=500)


class DashboardConfig(Strict):
    enabled: bool = Field(True, description="Serve the read-only web dashboard at /dashboard.")


class ObservabilityConfig(Strict):
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    decision_log: DecisionLogConfig = Field(default_factory=DecisionLogConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
