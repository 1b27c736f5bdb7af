"""Send a routed request to a worker: endpoint choice, retries, fallback models, timeouts.

Retries are only safe before the worker could have produced anything, so we retry connect errors
and 502/503 answers (the worker or its gateway refused the request), never timeouts or a response
that already started streaming.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson

from semrouter.errors import no_healthy_endpoint, upstream_failed, upstream_timeout
from semrouter.upstream.client import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
)

if TYPE_CHECKING:
    from semrouter.context import RequestContext
    from semrouter.pool.endpoint import Endpoint
    from semrouter.pool.pool import ModelPool

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
# Response headers we never copy from a worker: hop-by-hop ones, and those our own server sets.
RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}
RETRYABLE_STATUS = frozenset({502, 503})
ROUTER_PREFIX = b"x-vsr-"
ROUTING_HEADER = b"x-selected-model"


def router_owned(name: bytes) -> bool:
    """Headers only the router may set: ``x-vsr-*`` (what routing did) and the routing header. A client's
    are never forwarded (a worker or its gateway might trust them), and a worker's never reach the client
    beside the router's own (two ``x-vsr-selected-model``, a ``x-vsr-cache-hit`` the router never set)."""
    return name.startswith(ROUTER_PREFIX) or name == ROUTING_HEADER


TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
CLIENT_KEY_HEADERS = frozenset({"authorization", "x-api-key"})
"""Where clients send API keys. With ``tenancy`` configured those are the router's virtual keys: stripped
before the worker, which gets its endpoint's own key (``api_key_env``) or none."""
_CLIENT_KEY_RAW = frozenset(k.encode() for k in CLIENT_KEY_HEADERS)


def model_chain(ctx: RequestContext, pools: Mapping[str, ModelPool]) -> list[str]:
    """The chosen model, then its fallbacks (transitively, each once)."""
    assert ctx.model is not None
    chain, i = [ctx.model], 0
    while i < len(chain):
        pool = pools.get(chain[i])
        for fb in pool.model.fallback if pool else ():
            if fb not in chain:
                chain.append(fb)
        i += 1
    return chain


class Forwarder:
    def __init__(self, client: UpstreamClient) -> None:
        self.client = client
        self.retries = 0

    def _body_for(self, ctx: RequestContext, model: str, endpoint: Endpoint) -> bytes:
        name = endpoint.served_model or model
        if not ctx.body_modified and name == ctx.body.get("model"):
            return ctx.raw_body  # passthrough: the client's bytes, untouched
        return orjson.dumps({**ctx.body, "model": name})

    def _headers(
        self, ctx: RequestContext, endpoint: Endpoint, raw: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        # The client's Authorization goes to endpoints without a key of their own (a worker that checks the
        # caller's key); an endpoint with its own key gets that key, never the client's. With tenancy, the
        # client's key is a virtual key of the router's and never leaves it.
        virtual_keys = ctx.config.tenancy is not None
        out = [
            (k, v)
            for k, v in raw
            if k not in HOP_BY_HOP
            and not router_owned(k)
            and not (endpoint.api_key and k == b"authorization")
            and not (virtual_keys and k in _CLIENT_KEY_RAW)
        ]
        if endpoint.api_key:
            out.append((b"authorization", b"Bearer " + endpoint.api_key.encode()))
        if ctx.config.server.request_id_header.encode() not in (k for k, _ in raw):
            out.append((ctx.config.server.request_id_header.encode(), ctx.request_id.encode()))
        traceparent = ctx.trace.traceparent
        if traceparent is not None:  # tracing on: the worker's parent is our upstream span, not the client's
            out = [(k, v) for k, v in out if k not in TRACE_HEADERS]
            out.append((b"traceparent", traceparent.encode()))
            if ctx.trace.tracestate is not None:
                out.append((b"tracestate", ctx.trace.tracestate.encode()))
        return out

    async def send(
        self,
        ctx: RequestContext,
        pools: Mapping[str, ModelPool],
        path: str,
        raw_headers: list[tuple[bytes, bytes]],
    ) -> UpstreamResponse:
        """Return the upstream response with ``ctx.endpoint`` set and its outstanding count raised.

        The caller must call :meth:`finish` once the response is done. Raises a RouterError for
        504 (timeout) and 503 (no endpoint left).
        """
        cfg = ctx.config.pool
        chain = model_chain(ctx, pools)
        tried: list[Endpoint] = []
        pending: tuple[UpstreamResponse, Endpoint, str, bool] | None = None
        attempts = 0
        for model in chain:
            pool = pools[model]
            budget = attempts + cfg.max_retries + 1  # each model in the chain gets its own retry budget
            while attempts < budget:
                endpoint = pool.pick(ctx, tried)
                if endpoint is None:
                    break
                if pending is not None:  # a 502/503 we can now replace with a fresh attempt
                    await pending[0].aclose()
                    pending = None
                if attempts:
                    self.retries += 1
                    ctx.upstream.retries = attempts  # every attempt after the first is a retry
                tried.append(endpoint)
                attempts += 1
                # A /v1/responses request to a model whose workers speak it (api: responses) goes as
                # /v1/responses; everything else as the pipeline left it (adapters/responses.py).
                native = None
                if ctx.dialect is not None:
                    native = ctx.dialect.native_request(ctx, model, endpoint.served_model or model)
                target, body = native if native is not None else (path, self._body_for(ctx, model, endpoint))
                endpoint.outstanding += 1
                endpoint.requests += 1
                try:
                    resp = await self.client.request(
                        "POST",
                        endpoint.url + target,
                        self._headers(ctx, endpoint, raw_headers),
                        body,
                        timeout=cfg.timeout_s,
                        idle_timeout=cfg.stream_idle_timeout_s,
                    )
                except UpstreamConnectError:
                    endpoint.outstanding -= 1
                    endpoint.record_failure(cfg.ejection)
                    continue
                except UpstreamTimeout:
                    endpoint.outstanding -= 1
                    endpoint.record_failure(cfg.ejection)
                    raise upstream_timeout(model, cfg.timeout_s) from None
                except UpstreamError as exc:  # closed before the headers or spoke broken HTTP: maybe processed
                    endpoint.outstanding -= 1
                    endpoint.record_failure(cfg.ejection)
                    raise upstream_failed(model, exc) from None
                except BaseException:
                    endpoint.outstanding -= 1
                    raise
                if resp.status in RETRYABLE_STATUS:
                    endpoint.outstanding -= 1
                    endpoint.record_failure(cfg.ejection)
                    pending = (resp, endpoint, model, native is not None)
                    continue
                if resp.status >= 500:
                    endpoint.record_failure(cfg.ejection)
                else:
                    endpoint.record_success()
                return self._chosen(ctx, resp, endpoint, model, native is not None)
        if pending is not None:  # out of retries: the worker's own 502/503 is the most honest answer
            resp, endpoint, model, was_native = pending
            endpoint.outstanding += 1
            return self._chosen(ctx, resp, endpoint, model, was_native)
        raise no_healthy_endpoint(chain)

    @staticmethod
    def _chosen(
        ctx: RequestContext, resp: UpstreamResponse, endpoint: Endpoint, model: str, native: bool = False
    ) -> UpstreamResponse:
        ctx.endpoint = endpoint
        ctx.upstream.native = native  # the answer's shape: Responses (relayed) or chat (translated back)
        if native:
            ctx.response_headers["x-vsr-upstream-api"] = "responses"
        else:
            ctx.response_headers.pop("x-vsr-upstream-api", None)  # a fallback that went as chat
        if model != ctx.model:
            ctx.response_headers["x-vsr-fallback-from"] = ctx.model or ""
            ctx.model = model
        return resp

    @staticmethod
    def finish(ctx: RequestContext) -> None:
        if ctx.endpoint is not None:
            ctx.endpoint.outstanding -= 1
