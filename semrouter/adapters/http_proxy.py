"""The standalone HTTP proxy, independent of the server it runs on.

:class:`ProxyHandler` holds all request handling; a server adapter (:mod:`semrouter.adapters.asgi`
for uvicorn, :mod:`semrouter.adapters.rsgi` for granian) wraps each request in an :class:`Exchange`.
Streaming answers are relayed chunk by chunk; a client disconnect cancels the relay, which closes the
upstream connection, which is how vLLM learns to stop generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from semrouter.adapters.exchange import (
    ClientDisconnected,
    Exchange,
    Route,
    bearer,
    encode_headers,
    env_token,
    finish_filters,
    peer_address,
    require_reader,
    respond_error,
    respond_json,
    token_matches,
    unauthorized,
)
from semrouter.adapters.intake import API_PATHS, DIALECTS, Admission, check_content_type, check_method, error_body
from semrouter.adapters.responses import CONVERSATIONS, RESPONSES_PATH
from semrouter.adapters.translate import CHAT_PATH, Dialect
from semrouter.cache.service import CacheService, invalidate_filters
from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.decide.feedback import FeedbackRoutes
from semrouter.dryrun import route_api
from semrouter.errors import RouterError
from semrouter.observe.http import ObserveRoutes
from semrouter.observe.usage import UsageSniffer
from semrouter.router import Router, Runtime
from semrouter.tenancy import identify
from semrouter.upstream.cascade import HeldResponse
from semrouter.upstream.cascade import plan as plan_cascade
from semrouter.upstream.client import UpstreamError, UpstreamResponse
from semrouter.upstream.forward import RESPONSE_DROP, router_owned

log = logging.getLogger("semrouter.proxy")

STOP_BOUND_S = 8.0

STREAM_BROKEN = (
    b'data: {"error": {"message": "The upstream worker failed mid-answer; the answer is incomplete", '
    b'"type": "upstream_error", "param": null, "code": "upstream_stream_broken"}}\n\n'
)


STORED_PREFIX = RESPONSES_PATH + "/"
"""``GET``/``DELETE /v1/responses/{id}``: the stored Response objects (see :meth:`ProxyHandler._stored_response`)."""


class ProxyHandler:
    """All HTTP routes of the router; ``router`` holds the live config snapshot and the fleet."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/v1/models"): self._models,
            ("GET", "/health"): self._health,
            ("GET", "/healthz"): self._health,
            ("GET", "/ready"): self._ready,
            ("GET", "/readyz"): self._ready,
            ("GET", "/api/v1/status"): self._status,
            ("POST", "/api/v1/route"): self._route,
            ("GET", "/api/v1/cache/stats"): self._cache_stats,
            ("POST", "/api/v1/cache/invalidate"): self._cache_invalidate,
            ("POST", "/api/v1/cache/flush"): self._cache_flush,
        }
        self.routes.update(ObserveRoutes(router).routes())  # /metrics, /dashboard, /api/v1/decisions, ...
        self.routes.update(FeedbackRoutes(router).routes())  # POST /api/v1/feedback: teaches the bandit

    async def startup(self) -> None:
        await self.router.start()

    async def shutdown(self) -> None:
        # Bounded: granian kills a worker that takes over workers_kill_timeout (10 s) to stop, and an exit
        # by SIGKILL loses the decision log's last lines and the traces still queued.
        try:
            await asyncio.wait_for(self.router.stop(), STOP_BOUND_S)
        except TimeoutError:
            log.warning("router stop did not finish in %g s; exiting without the rest", STOP_BOUND_S)

    async def handle(self, ex: Exchange) -> None:
        path, method = ex.path, ex.method
        try:
            api = API_PATHS.get(path)
            dialect = DIALECTS.get(path)
            if api is not None or dialect is not None:
                check_method(method, path)
                await self._api(api or ApiKind.CHAT, ex, dialect)
                return
            route = self.routes.get((method, path))
            if route is None and path.startswith(STORED_PREFIX):
                route = self._stored_response
            if route is None:
                raise RouterError(404, f"Unknown path {method} {path}", code="not_found")
            await route(ex)
        except RouterError as err:
            await respond_error(ex, err, body=error_body(path, err))
        except ClientDisconnected:
            pass
        except Exception:  # a bug of ours: still an OpenAI-style answer, never a bare connection reset
            log.exception("internal error on %s %s", method, path)
            with contextlib.suppress(Exception):  # fails if the response had already started
                internal = RouterError(500, "Internal router error", type="server_error", code="internal")
                await respond_error(ex, internal, body=error_body(path, internal))

    # -- small routes ----------------------------------------------------------------------------

    async def _health(self, ex: Exchange) -> None:
        await respond_json(ex, 200, b'{"status":"ok"}')

    async def _stored_response(self, ex: Exchange) -> None:
        """``GET`` / ``DELETE /v1/responses/{id}``: a Response object kept by this process's conversation
        store (``store: true``, the API's default), for the tenant that made it: the tenant of the API key
        with tenancy on, else the tenant header, as for the cache. Another tenant's id, an expired one and one
        answered by another router process are all 404, as an unknown id is."""
        rid = ex.path[len(STORED_PREFIX) :]
        if not rid or "/" in rid:
            raise RouterError(404, f"Unknown path {ex.method} {ex.path}", code="not_found")
        if ex.method not in ("GET", "DELETE"):
            allowed = f"{STORED_PREFIX}{{id}}; use GET or DELETE"
            raise RouterError(405, f"Method {ex.method} not allowed on {allowed}", code="method_not_allowed")
        cfg = self.router.runtime.config
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in ex.headers}
        if cfg.tenancy is not None:
            tenant = identify(cfg, headers, peer_address(ex))[0]
        else:
            tenant = headers.get(cfg.cache.tenant_header.lower())
        if ex.method == "DELETE":
            if CONVERSATIONS.delete(tenant or "", rid):
                await respond_json(ex, 200, orjson.dumps({"id": rid, "object": "response", "deleted": True}))
                return
        elif (stored := CONVERSATIONS.response(tenant or "", rid)) is not None:
            await respond_json(ex, 200, stored)
            return
        raise RouterError(404, f"No response found with id '{rid}'", param="response_id", code="not_found")

    async def _status(self, ex: Exchange) -> None:
        require_reader(ex, self.router.runtime.config.server)
        await respond_json(ex, 200, orjson.dumps(self.router.status()))

    async def _route(self, ex: Exchange) -> None:
        """Dry run: what routing would decide for one request, without calling a worker."""
        runtime = self.router.runtime
        raw = await ex.read_body(runtime.config.server.max_body_bytes)
        await respond_json(ex, 200, orjson.dumps(await route_api(runtime.config, runtime.pipeline, raw)))

    # -- cache administration (stats are open; changes need the admin token) ----------------------

    def _require_admin(self, ex: Exchange) -> None:
        """403 while no admin token is configured (the routes are off), 401 for a missing or wrong one."""
        server = self.router.runtime.config.server
        token = env_token(server.admin_token_env)
        if not token:
            raise RouterError(
                403,
                "Cache administration is disabled: set server.admin_token_env to the name of an environment "
                "variable holding an admin token, then send 'Authorization: Bearer <token>'",
                type="permission_error",
                code="admin_disabled",
            )
        if not token_matches(bearer(ex.headers), [token]):
            raise unauthorized("admin")

    def _cache_service(self) -> CacheService:
        if self.router.cache is None:
            raise RouterError(404, "The semantic cache is not enabled (cache.enabled: false)", code="cache_disabled")
        return self.router.cache

    async def _cache_stats(self, ex: Exchange) -> None:
        cache = self.router.cache
        await respond_json(ex, 200, orjson.dumps(cache.stats() if cache is not None else {"enabled": False}))

    async def _cache_invalidate(self, ex: Exchange) -> None:
        self._require_admin(ex)
        filters = invalidate_filters(await ex.read_body(64 * 1024))
        dropped = await self._cache_service().invalidate(**filters)
        await respond_json(ex, 200, orjson.dumps({"invalidated": dropped}))

    async def _cache_flush(self, ex: Exchange) -> None:
        self._require_admin(ex)
        dropped = await self._cache_service().invalidate()
        await respond_json(ex, 200, orjson.dumps({"flushed": dropped}))

    async def _models(self, ex: Exchange) -> None:
        cfg = self.router.runtime.config
        now = int(time.time())
        names = [(v, "semrouter") for v in cfg.routing.virtual_models]
        allowed = None
        if cfg.tenancy is not None:  # a tenant's key lists what that tenant may use (401 without one)
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in ex.headers}
            _, tenant, _ = identify(cfg, headers, peer_address(ex))
            allowed = tenant.models if tenant is not None else None
        if cfg.routing.explicit_models == "allow":
            names += [(m.name, "semrouter-upstream") for m in cfg.models if allowed is None or m.name in allowed]
        data = [{"id": n, "object": "model", "created": now, "owned_by": owner} for n, owner in names]
        await respond_json(ex, 200, orjson.dumps({"object": "list", "data": data}))

    async def _ready(self, ex: Exchange) -> None:
        """Ready once start-up is done (granian serves while it runs) and some model has an endpoint."""
        now = time.monotonic()
        live = {name: sum(e.available(now) for e in p.endpoints) for name, p in self.router.runtime.pools.items()}
        started = self.router.started
        ok = started and any(live.values())
        body = {"ready": ok, "starting": not started, "available_endpoints": live}
        await respond_json(ex, 200 if ok else 503, orjson.dumps(body))

    # -- the OpenAI API --------------------------------------------------------------------------

    async def _api(self, api: ApiKind, ex: Exchange, dialect: type[Dialect] | None = None) -> None:
        runtime: Runtime = self.router.runtime  # one snapshot for the whole request
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in ex.headers}
        check_content_type(headers)
        body = await ex.read_body(runtime.config.server.max_body_bytes)
        req = Admission(
            runtime,
            self.router.observer,
            api,
            body,
            headers,
            tenancy=self.router.tenancy,
            client=peer_address(ex),
            dialect=dialect() if dialect is not None else None,  # /v1/responses, /v1/messages: translated
        )
        outcome = None
        try:
            routed = await req.route()
            if isinstance(routed, RouterError):
                await respond_error(ex, routed, req.error_headers(), error_body(ex.path, routed))
            elif routed is not None:
                await self._send_local(ex, req.ctx, routed)
            else:
                outcome = await self._forward(runtime, req.ctx, ex)
        finally:  # the one place a request is observed (metrics, trace, decision log), answer already sent
            req.record(outcome)

    async def _send_local(self, ex: Exchange, ctx: RequestContext, local: LocalResponse) -> None:
        headers = [(b"content-type", local.content_type.encode())]
        headers += encode_headers({**ctx.routing_headers(), **local.headers})
        if local.chunks is None:
            await ex.respond(local.status, headers, local.body)
            return
        await ex.start_stream(local.status, headers)
        async for chunk in local.chunks:
            await ex.send_chunk(chunk)
        await ex.end_stream()

    async def _forward(self, runtime: Runtime, ctx: RequestContext, ex: Exchange) -> ResponseOutcome:
        task = asyncio.current_task()
        assert task is not None
        disconnected = asyncio.Event()
        watcher = asyncio.create_task(self._watch_disconnect(ex, task, disconnected))
        resp: UpstreamResponse | HeldResponse | None = None
        outcome = ResponseOutcome(status=0, completed=False)
        path = CHAT_PATH if ctx.dialect is not None else ex.path  # a translated API goes to chat completions
        try:
            cascade = plan_cascade(ctx)  # cheaper model first when the decision has a cascade
            if cascade is not None:
                if isinstance(ctx.dialect, Dialect):  # the cascade judges chat answers: no native Responses
                    ctx.dialect.native_ok = False
                resp = await cascade.send(self.router.forwarder, runtime.pools, path, ex.headers)
            else:
                resp = await self.router.forwarder.send(ctx, runtime.pools, path, ex.headers)
            ctx.timings.upstream_headers = time.perf_counter()
            outcome.status = resp.status
            outcome.body, outcome.completed = await self._relay(ctx, resp, ex, runtime.pipeline.wants_response_body)
        except RouterError as err:
            outcome.status, outcome.error = err.status, err.code
            await respond_error(ex, err, ctx.routing_headers(), error_body(ex.path, err))
        except ClientDisconnected:
            outcome.error = "client_disconnected"
        except asyncio.CancelledError:
            if not disconnected.is_set():
                raise  # server shutdown, not our client
            task.uncancel()
            outcome.error = "client_disconnected"
        finally:
            watcher.cancel()
            if resp is not None:
                await resp.aclose()  # unconsumed body → connection closed → worker stops generating
                self.router.forwarder.finish(ctx)
        await runtime.pipeline.run_response(ctx, outcome)
        return outcome

    @staticmethod
    async def _watch_disconnect(ex: Exchange, task: asyncio.Task[Any], flag: asyncio.Event) -> None:
        await ex.wait_disconnect()
        flag.set()
        task.cancel()

    async def _relay(
        self, ctx: RequestContext, resp: UpstreamResponse | HeldResponse, ex: Exchange, keep: bool
    ) -> tuple[bytes | None, bool]:
        headers = [(k, v) for k, v in resp.headers if k not in RESPONSE_DROP and not router_owned(k)]
        headers += encode_headers(ctx.routing_headers())
        streaming = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in resp.headers)
        if not streaming:
            try:
                body = await resp.read()
            except UpstreamError as exc:
                log.warning("upstream %s failed mid-body: %r", ctx.endpoint, exc)
                raise RouterError(
                    502,
                    "The upstream worker closed the connection mid-answer",
                    type="upstream_error",
                    code="upstream_error",
                ) from None
            ctx.upstream.body = body  # the observer finds the token usage in it (no copy)
            sent = body
            for f in ctx.response_filters:
                sent = f.feed(sent) + f.finish()
            await ex.respond(resp.status, headers, sent)
            return (body if keep else None), True
        await ex.start_stream(resp.status, headers)
        kept: list[bytes] = []
        completed = True
        sniffer = ctx.upstream.sniffer = UsageSniffer()  # token usage and first-byte time, read by the observer
        try:
            filters = ctx.response_filters
            async for chunk in resp.iter_chunks():
                sniffer.feed(chunk)
                if keep:
                    kept.append(chunk)
                for f in filters:
                    chunk = f.feed(chunk)
                if chunk:
                    await ex.send_chunk(chunk)
            if tail := finish_filters(filters):
                await ex.send_chunk(tail)
        except UpstreamError as exc:
            # The status line is out, so the error goes in the stream, as vLLM does: SDKs raise on it
            # instead of returning a silently truncated answer.
            log.warning("upstream %s stream broke: %r", ctx.endpoint, exc)
            exc.__traceback__ = None  # break frame cycles that would keep the client connection open
            if ctx.endpoint is not None:
                ctx.endpoint.record_failure(ctx.config.pool.ejection)
            completed = False
            broken = STREAM_BROKEN  # through the filters: a translated API gets its own error event
            for f in ctx.response_filters:
                broken = f.feed(broken)
            if broken := broken + finish_filters(ctx.response_filters):
                await ex.send_chunk(broken)
        await ex.end_stream()
        return (b"".join(kept) if keep else None), completed
