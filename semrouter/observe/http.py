"""HTTP routes of observability: ``/metrics``, the dashboard's static files and its read-only JSON APIs.

All of them only read. The dashboard's one state-changing action (flushing the cache) goes to the cache
admin API, which requires the admin token. Once an admin (or read) token is configured, the JSON views
need it too (``require_reader``): they show request fields and system prompts. The page itself (static
files) and ``/metrics`` stay open. The routes check the live config on each call, so turning
the dashboard or metrics off by a config reload takes effect at once (404).

With ``server.workers > 1`` each worker process has its own decision ring, and a browser's requests may land
on different workers. So the live stream starts with a ``hello`` event (which worker, how many there are)
followed by that worker's ring, then its new decisions: the page's table and charts always come from one
worker, over one connection, and say which. ``/metrics`` covers every worker (multiprocess mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from semrouter.adapters.exchange import Exchange, Route, bearer, env_token, require_reader, respond_json, unauthorized
from semrouter.errors import RouterError
from semrouter.observe.decision_log import summary

if TYPE_CHECKING:
    from semrouter.config.schema import RouterConfig
    from semrouter.router import Router

STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SSE_KEEPALIVE_S = 15.0
_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"),
    (b"cache-control", b"no-cache"),
]


def policy_view(config: RouterConfig) -> dict[str, Any]:
    """The routing policy as a graph the dashboard draws: signals → decisions → models."""
    signals = [{"name": s.name, "type": s.type} for s in config.signals]
    g = config.guards
    for guard, on in (("pii", g.pii.enabled), ("jailbreak", g.jailbreak.enabled), ("harmful", g.harmful.enabled)):
        if on:
            signals.append({"name": guard, "type": f"guard:{guard}"})
    decisions = []
    for d in config.decisions:
        decisions.append(
            {
                "name": d.name,
                "description": d.description,
                "priority": d.priority,
                "default": d.name == config.routing.default_decision,
                "category": d.category,
                "signals": sorted(d.rules.signals()) if d.rules is not None else [],
                "rules": d.rules.model_dump(mode="json", by_alias=True, exclude_defaults=True) if d.rules else None,
                "models": [{"model": m.model, "score": m.score} for m in d.models],
                "selection": (d.selection or config.routing.selection).algorithm,
                "use_reasoning": d.use_reasoning,
                "reasoning_effort": d.reasoning_effort if d.use_reasoning else None,
                "system_prompt": d.system_prompt.text if d.system_prompt is not None else None,
                "system_prompt_mode": d.system_prompt.mode if d.system_prompt is not None else None,
            }
        )
    models = [
        {
            "name": m.name,
            "family": m.family,
            "endpoints": len(m.endpoints),
            "fallback": m.fallback,
            "pricing": {"prompt_per_1m": m.pricing.prompt_per_1m, "completion_per_1m": m.pricing.completion_per_1m},
        }
        for m in config.models
    ]
    return {
        "virtual_models": config.routing.virtual_models,
        "default_decision": config.routing.default_decision,
        "signals": signals,
        "decisions": decisions,
        "models": models,
        "cache_enabled": config.cache.enabled,
        "admin_enabled": config.server.admin_token_env is not None,
    }


def reader_scope(ex: Exchange, config: RouterConfig) -> str | None:
    """Whose decisions a reader may see: ``None`` for everyone's (the admin or read token, or no token
    configured and no tenancy), a tenant's name for that tenant's API key. With tenancy configured the
    views are never open: a multi-tenant router's decisions are its tenants' business."""
    server = config.server
    if config.tenancy is None or env_token(server.admin_token_env) or env_token(server.read_token_env):
        try:
            require_reader(ex, server)
            return None
        except RouterError:
            if config.tenancy is None:
                raise
    key = bearer(ex.headers)
    entry = config.tenancy.lookup(key) if config.tenancy is not None and key else None
    if entry is None:
        raise unauthorized("read")
    return entry.tenant.name


def _scoped(records: list[dict[str, Any]], tenant: str | None) -> list[dict[str, Any]]:
    return records if tenant is None else [r for r in records if r.get("tenant") == tenant]


def worker_info(config: RouterConfig) -> dict[str, int]:
    """Which server worker answers, and how many there are: the decision ring is per worker."""
    return {"pid": os.getpid(), "workers": config.server.workers}


class ObserveRoutes:
    def __init__(self, router: Router) -> None:
        self.router = router
        self._static: dict[str, tuple[bytes, bytes]] = {}

    def routes(self) -> dict[tuple[str, str], Route]:
        out: dict[tuple[str, str], Route] = {
            ("GET", "/metrics"): self.metrics,
            ("GET", "/api/v1/decisions"): self.decisions,
            ("GET", "/api/v1/decisions/stream"): self.stream,
            ("GET", "/api/v1/summary"): self.summary,
            ("GET", "/api/v1/policy"): self.policy,
            ("GET", "/dashboard"): self.static,
            ("GET", "/dashboard/"): self.static,
        }
        if STATIC_DIR.is_dir():
            for f in STATIC_DIR.iterdir():
                if f.suffix in _TYPES:
                    out[("GET", f"/dashboard/{f.name}")] = self.static
        return out

    def _dashboard_on(self) -> None:
        if not self.router.runtime.config.observability.dashboard.enabled:
            raise RouterError(
                404, "The dashboard is disabled (observability.dashboard.enabled: false)", code="not_found"
            )

    async def metrics(self, ex: Exchange) -> None:
        observer = self.router.observer
        if observer.metrics is None:
            raise RouterError(404, "Metrics are disabled (observability.metrics.enabled: false)", code="not_found")
        body = await asyncio.to_thread(observer.scrape)  # reading the workers' files never stalls the loop
        await ex.respond(200, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")], body)

    async def decisions(self, ex: Exchange) -> None:
        self._dashboard_on()
        tenant = reader_scope(ex, self.router.runtime.config)  # a tenant's key sees its own records only
        log = self.router.observer.log
        worker = worker_info(self.router.runtime.config)
        records = _scoped(log.recent(), tenant)
        total = log.total if tenant is None else len(records)
        await respond_json(ex, 200, orjson.dumps({"total": total, "worker": worker, "decisions": records}))

    async def summary(self, ex: Exchange) -> None:
        self._dashboard_on()
        tenant = reader_scope(ex, self.router.runtime.config)
        log = self.router.observer.log
        worker = worker_info(self.router.runtime.config)
        records = _scoped(log.recent(), tenant)
        total = log.total if tenant is None else len(records)
        await respond_json(ex, 200, orjson.dumps({"total": total, "worker": worker, **summary(records)}))

    async def policy(self, ex: Exchange) -> None:
        self._dashboard_on()
        if reader_scope(ex, self.router.runtime.config) is not None:  # every decision's system prompt
            raise RouterError(403, "The policy view needs the admin or read token", type="permission_error")
        await respond_json(ex, 200, orjson.dumps(policy_view(self.router.runtime.config)))

    async def stream(self, ex: Exchange) -> None:
        """Server-sent events: a ``hello`` event (this worker, and how many records of its ring follow), the
        ring, then one ``data:`` line per decision as requests finish; a comment every 15 s."""
        self._dashboard_on()
        tenant = reader_scope(ex, self.router.runtime.config)
        log = self.router.observer.log
        queue = log.subscribe()  # with the snapshot below in one step: no record is missed or sent twice
        backlog, total = _scoped(log.recent(), tenant), log.total
        hello = {**worker_info(self.router.runtime.config), "total": total, "backlog": len(backlog)}
        gone = asyncio.ensure_future(ex.wait_disconnect())
        try:
            await ex.start_stream(
                200,
                [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            )
            await ex.send_chunk(b": connected\n\nevent: hello\ndata: " + orjson.dumps(hello) + b"\n\n")
            for i in range(0, len(backlog), 64):
                await ex.send_chunk(b"".join(b"data: " + orjson.dumps(r) + b"\n\n" for r in backlog[i : i + 64]))
            while True:
                get = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({get, gone}, timeout=_SSE_KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                if gone in done:
                    break
                if get in done:
                    batch = [get.result()]
                    while not queue.empty() and len(batch) < 64:
                        batch.append(queue.get_nowait())
                    batch = _scoped(batch, tenant)
                    if not batch:
                        continue
                    await ex.send_chunk(b"".join(b"data: " + orjson.dumps(r) + b"\n\n" for r in batch))
                else:
                    await ex.send_chunk(b": keep-alive\n\n")
        finally:
            log.unsubscribe(queue)
            gone.cancel()
        with contextlib.suppress(Exception):
            await ex.end_stream()

    async def static(self, ex: Exchange) -> None:
        self._dashboard_on()
        name = ex.path.removeprefix("/dashboard").strip("/") or "index.html"
        item = self._static.get(name)
        if item is None:
            f = STATIC_DIR / name
            if "/" in name or f.suffix not in _TYPES or not f.is_file():
                raise RouterError(404, f"Unknown path GET {ex.path}", code="not_found")
            item = self._static[name] = (f.read_bytes(), _TYPES[f.suffix].encode())
        body, ctype = item
        await ex.respond(200, [(b"content-type", ctype), *_SECURITY], body)
