"""The standalone HTTP proxy, independent of the server it runs on.

:class:`ProxyHandler` holds all request handling; a server adapter (:mod:`semrouter.adapters.asgi`
for uvicorn, :mod:`semrouter.adapters.rsgi` for granian) wraps each request in an :class:`Exchange`.
Streaming answers are relayed chunk by chunk; a client disconnect cancels the relay, which closes the
upstream connection, which is how vLLM learns to stop generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import quote, unquote_to_bytes

import orjson

from semrouter.context import ApiKind, BodyFilter, LocalResponse, RequestContext, ResponseOutcome
from semrouter.errors import RouterError
from semrouter.observe.usage import UsageSniffer
from semrouter.route import route_api
from semrouter.router import Router, Runtime
from semrouter.stages.cache import CacheService, invalidate_filters
from semrouter.upstream.client import UpstreamError, UpstreamResponse
from semrouter.upstream.forward import RESPONSE_DROP, router_owned

log = logging.getLogger("semrouter.proxy")

STOP_BOUND_S = 8.0

RawHeaders = list[tuple[bytes, bytes]]
API_PATHS = {
    "/v1/chat/completions": ApiKind.CHAT,
    "/v1/completions": ApiKind.COMPLETIONS,
    "/v1/embeddings": ApiKind.EMBEDDINGS,
}
_JSON = [(b"content-type", b"application/json")]
STREAM_BROKEN = (
    b'data: {"error": {"message": "The upstream worker failed mid-answer; the answer is incomplete", '
    b'"type": "upstream_error", "param": null, "code": "upstream_stream_broken"}}\n\n'
)


class ClientDisconnected(Exception):
    """The client went away; raised by an exchange that notices it while reading or writing."""


class Exchange(Protocol):
    """One HTTP request/response as a server adapter offers it. Header names are lower-case bytes."""

    method: str
    path: str
    headers: RawHeaders

    async def read_body(self, limit: int) -> bytes:
        """The whole request body; RouterError 413 past ``limit``; ClientDisconnected if gone."""
        ...

    async def respond(self, status: int, headers: RawHeaders, body: bytes) -> None: ...

    async def start_stream(self, status: int, headers: RawHeaders) -> None: ...

    async def send_chunk(self, data: bytes) -> None: ...

    async def end_stream(self) -> None: ...

    async def wait_disconnect(self) -> None:
        """Return once the client has disconnected (may also return when the exchange completes)."""
        ...


Route = Callable[[Exchange], Awaitable[None]]


_HEADER_SAFE = " !\"#$&'()*+,/:;<=>?@[\\]^`{|}~"


def header_value(value: str) -> bytes:
    """A header value from text that may come from clients or config (tool names, labels): printable
    ASCII as is, anything else percent-encoded, so no value can break or inject into the header block."""
    if value.isascii() and value.isprintable():
        return value.encode()
    return quote(value, safe=_HEADER_SAFE).encode()


def encode_headers(headers: dict[str, str]) -> RawHeaders:
    return [(k.encode("latin-1"), header_value(v)) for k, v in headers.items()]


def finish_filters(filters: Sequence[BodyFilter]) -> bytes:
    """Flush a chain of body filters: each one's held-back bytes still pass through the ones after it."""
    data = b""
    for f in filters:
        data = f.feed(data) + f.finish()
    return data


def too_large(limit: int) -> RouterError:
    return RouterError(
        413, f"Request body exceeds the {limit}-byte limit", code="request_too_large", headers={"connection": "close"}
    )


def bad_body() -> RouterError:
    """The body's HTTP framing is broken (a malformed chunk size, say): the client's fault, so a 400."""
    return RouterError(
        400,
        "The request body is malformed (bad chunked encoding)",
        code="invalid_body",
        headers={"connection": "close"},
    )


async def respond_json(ex: Exchange, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
    await ex.respond(status, _JSON + encode_headers(headers) if headers else _JSON, payload)


async def respond_error(ex: Exchange, err: RouterError, headers: dict[str, str] | None = None) -> None:
    await respond_json(ex, err.status, err.body(), {**(headers or {}), **err.headers})


def require_reader(ex: Exchange, router: Router) -> None:
    """The read-only views (status, decisions, summary, policy) show what clients sent and every system prompt:
    once an admin token is configured they need it, or the read token; with neither configured they stay
    open (a router on a laptop). The token comes as ``Authorization: Bearer`` or, for the dashboard page
    (a browser's EventSource cannot set headers), as the ``semrouter_token`` cookie: these views only read."""
    server = router.runtime.config.server
    tokens = [t for t in (_env_token(server.admin_token_env), _env_token(server.read_token_env)) if t]
    if not tokens:
        return
    if not (_token_matches(bearer(ex.headers), tokens) or _token_matches(_cookie_token(ex.headers), tokens)):
        raise _unauthorized("read")


def _env_token(env: str | None) -> str | None:
    return os.environ.get(env) or None if env else None


def bearer(headers: RawHeaders) -> bytes:
    given = next((v for k, v in headers if k == b"authorization"), b"")
    scheme, _, value = given.partition(b" ")
    return value.strip() if scheme.lower() == b"bearer" else b""


def _cookie_token(headers: RawHeaders) -> bytes:
    for k, v in headers:
        if k == b"cookie":
            for part in v.split(b";"):
                name, _, value = part.strip().partition(b"=")
                if name == TOKEN_COOKIE.encode():
                    return unquote_to_bytes(value)
    return b""


def _token_matches(given: bytes, tokens: list[str]) -> bool:
    # every token is compared (no early exit), each in constant time
    return bool(given) and sum(hmac.compare_digest(given, t.encode()) for t in tokens) > 0


def _unauthorized(kind: str) -> RouterError:
    return RouterError(
        401,
        f"Missing or invalid {kind} token: send 'Authorization: Bearer <token>'",
        type="authentication_error",
        code=f"invalid_{kind}_token",
        headers={"www-authenticate": "Bearer"},
    )


TOKEN_COOKIE = "semrouter_token"


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
        from semrouter.observe.http import ObserveRoutes  # imports this module: not at the top

        self.routes.update(ObserveRoutes(router).routes())  # /metrics, /dashboard, /api/v1/decisions, ...

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
            if api is not None:
                if method != "POST":
                    raise RouterError(
                        405, f"Method {method} not allowed on {path}; use POST", code="method_not_allowed"
                    )
                await self._api(api, ex)
                return
            route = self.routes.get((method, path))
            if route is None:
                raise RouterError(404, f"Unknown path {method} {path}", code="not_found")
            await route(ex)
        except RouterError as err:
            await respond_error(ex, err)
        except ClientDisconnected:
            pass
        except Exception:  # a bug of ours: still an OpenAI-style answer, never a bare connection reset
            log.exception("internal error on %s %s", method, path)
            with contextlib.suppress(Exception):  # fails if the response had already started
                await respond_error(ex, RouterError(500, "Internal router error", type="server_error", code="internal"))

    # -- small routes ----------------------------------------------------------------------------

    async def _health(self, ex: Exchange) -> None:
        await respond_json(ex, 200, b'{"status":"ok"}')

    async def _status(self, ex: Exchange) -> None:
        require_reader(ex, self.router)
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
        token = _env_token(server.admin_token_env)
        if not token:
            raise RouterError(
                403,
                "Cache administration is disabled: set server.admin_token_env to the name of an environment "
                "variable holding an admin token, then send 'Authorization: Bearer <token>'",
                type="permission_error",
                code="admin_disabled",
            )
        if not _token_matches(bearer(ex.headers), [token]):
            raise _unauthorized("admin")

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
        if cfg.routing.explicit_models == "allow":
            names += [(m.name, "semrouter-upstream") for m in cfg.models]
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

    async def _api(self, api: ApiKind, ex: Exchange) -> None:
        runtime: Runtime = self.router.runtime  # one snapshot for the whole request
        cfg = runtime.config
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in ex.headers}
        ctype = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise RouterError(
                415, f"Unsupported content type '{ctype}'; send application/json", code="unsupported_media_type"
            )
        body = await ex.read_body(cfg.server.max_body_bytes)
        ctx = RequestContext(api, body, headers, cfg, headers.get(cfg.server.request_id_header))
        status, error, outcome = 0, None, None  # how it ended, for the observer
        try:
            try:
                local = await runtime.pipeline.run_request(ctx)
            except RouterError as err:
                status, error = err.status, err.code or err.type
                fallback = {cfg.server.request_id_header: ctx.request_id}
                await respond_error(ex, err, ctx.routing_headers() if ctx.model else fallback)
                return
            if local is not None:
                status = local.status
                await self._send_local(ex, ctx, local)
                return
            outcome = await self._forward(runtime, ctx, ex)
        finally:  # the one place a request is observed (metrics, trace, decision log), answer already sent
            self.router.observer.record(ctx, status, error, outcome)

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
        resp: UpstreamResponse | None = None
        outcome = ResponseOutcome(status=0, completed=False)
        try:
            self.router.observer.begin_upstream(ctx)
            resp = await self.router.forwarder.send(ctx, runtime.pools, ex.path, ex.headers)
            ctx.obs["upstream_headers"] = time.perf_counter()
            outcome.status = resp.status
            outcome.body, outcome.completed = await self._relay(ctx, resp, ex, runtime.pipeline.wants_response_body)
        except RouterError as err:
            outcome.status, outcome.error = err.status, err.code
            await respond_error(ex, err, ctx.routing_headers())
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
        self, ctx: RequestContext, resp: UpstreamResponse, ex: Exchange, keep: bool
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
            ctx.obs["body"] = body  # the observer finds the token usage in it (no copy)
            sent = body
            for f in ctx.response_filters:
                sent = f.feed(sent) + f.finish()
            await ex.respond(resp.status, headers, sent)
            return (body if keep else None), True
        await ex.start_stream(resp.status, headers)
        kept: list[bytes] = []
        completed = True
        sniffer = ctx.obs["sniffer"] = UsageSniffer()  # token usage and first-byte time, read by the observer
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
            await ex.send_chunk(STREAM_BROKEN)
        await ex.end_stream()
        return (b"".join(kept) if keep else None), completed
