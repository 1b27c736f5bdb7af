"""Observability: Prometheus metrics, OpenTelemetry traces, the decision log and the web dashboard.

Everything is recorded in one place, :class:`semrouter.observe.recorder.Observer`, which both adapters
call with the finished request context; stages never touch metrics or spans. This package init stays
empty so that importing the config schema (which mounts :mod:`semrouter.observe.config`) stays cheap.
"""
