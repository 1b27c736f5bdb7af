"""The one way an OpenAI API request enters the router, whatever carries it (the HTTP proxy or Envoy's
ext_proc stream): validate → context → :meth:`Pipeline.run_request` → errors → record.

Both adapters used to do each of these steps themselves, with the 405/415 checks, the mapping from a
:class:`RouterError` to the answer's headers and the observer's ``record`` calls written twice (five
record sites in ext_proc alone). A difference between the two copies would show up as a request that
the proxy counts and ext_proc does not, or answers with other headers; with one intake they cannot
drift. What stays in each adapter is what really differs: how the answer is sent (bytes to a socket,
an ``ImmediateResponse`` to Envoy) and who calls the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from semrouter.adapters.messages import MessagesDialect
from semrouter.adapters.responses import ResponsesDialect
from semrouter.adapters.translate import Dialect
from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.errors import RouterError
from semrouter.tenancy import authenticate, settle

if TYPE_CHECKING:
    from semrouter.observe.recorder import Observer
    from semrouter.router import Runtime
    from semrouter.tenancy import TenancyState

log = logging.getLogger("semrouter.intake")

API_PATHS = {
    "/v1/chat/completions": ApiKind.CHAT,
    "/v1/completions": ApiKind.COMPLETIONS,
    "/v1/embeddings": ApiKind.EMBEDDINGS,
}
"""The route table of the OpenAI API: the paths the pipeline serves, and which API each one is."""

DIALECTS: dict[str, type[Dialect]] = {"/v1/responses": ResponsesDialect, "/v1/messages": MessagesDialect}
"""The client APIs served by translation to chat completions: each request gets a new :class:`Dialect`
(its ``ctx.api`` is chat, so the pipeline runs exactly as for chat)."""


def error_body(path: str, err: RouterError) -> bytes:
    """A router error in the shape of the API at ``path``: Anthropic's under /v1/messages (also for paths
    not served there, such as ``/v1/messages/count_tokens``, so Anthropic's SDKs read the 404), else OpenAI's."""
    dialect = DIALECTS.get(path)
    if dialect is None and path.startswith("/v1/messages/"):
        dialect = DIALECTS["/v1/messages"]
    return err.body() if dialect is None else dialect.error_body(err)


def check_method(method: str, path: str) -> None:
    """The OpenAI API paths take POST only: 405 otherwise."""
    if method != "POST":
        raise RouterError(405, f"Method {method} not allowed on {path}; use POST", code="method_not_allowed")


def check_content_type(headers: Mapping[str, str]) -> None:
    """The body must be JSON (no content type counts as JSON, as the OpenAI SDKs send it): 415 otherwise."""
    ctype = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise RouterError(
            415, f"Unsupported content type '{ctype}'; send application/json", code="unsupported_media_type"
        )


class Admission:
    """One API request through the intake: its context, how it ended, and the one record of it.

    ``route()`` runs the pipeline and says what the adapter must do: answer an error (a
    :class:`RouterError`, with :meth:`error_headers`), answer from the router (a :class:`LocalResponse`:
    a block or a cache hit) or go upstream (``None``). The adapter calls :meth:`record` once the client
    has its answer; a second call does nothing, so an adapter can call it from a ``finally``.
    """

    __slots__ = ("_recorded", "client", "ctx", "error", "observer", "runtime", "status", "tenancy")

    def __init__(
        self,
        runtime: Runtime,
        observer: Observer,
        api: ApiKind,
        body: bytes,
        headers: dict[str, str],
        *,
        tenancy: TenancyState | None = None,
        client: str | None = None,
        dialect: Dialect | None = None,
    ) -> None:
        cfg = runtime.config
        self.runtime = runtime  # the config snapshot the whole request keeps, even across a reload
        self.observer = observer
        self.ctx = RequestContext(api, body, headers, cfg, headers.get(cfg.server.request_id_header))
        self.ctx.dialect = dialect
        self.status = 0
        self.error: str | None = None
        self._recorded = False
        self.tenancy = tenancy  # the router's limit counters and sessions; None: no tenancy (tests, tools)
        self.client = client  # the peer's IP address, if the transport knows it (a trusted tenant header)

    async def route(self) -> RouterError | LocalResponse | None:
        """Run the request stages; a bug of ours still becomes an OpenAI-style 500, never a reset."""
        ctx = self.ctx
        try:
            if self.tenancy is not None:  # who is calling, before any work is done for them (401, 429)
                authenticate(ctx, self.tenancy, self.client)
            local = await self.runtime.pipeline.run_request(ctx)
            if isinstance(ctx.dialect, Dialect):  # /v1/responses, /v1/messages: answers in that API's shape
                local = ctx.dialect.settle(ctx, local)
        except RouterError as err:
            self.status, self.error = err.status, err.code or err.type
            return err
        except Exception:
            log.exception("internal error routing request %s", ctx.request_id)
            self.status, self.error = 500, "internal"
            return RouterError(500, "Internal router error", type="server_error", code="internal")
        if local is not None:
            self.status = local.status
            return local
        self.observer.begin_upstream(ctx)
        return None

    def error_headers(self) -> dict[str, str]:
        """Headers of an error answer: the routing headers once a model was chosen, else the request id."""
        ctx = self.ctx
        if ctx.model:
            return ctx.routing_headers()
        return {ctx.config.server.request_id_header: ctx.request_id}

    def record(self, outcome: ResponseOutcome | None = None) -> None:
        """Observe the request (metrics, trace, decision log) once, with the upstream ``outcome`` if it went there."""
        if self._recorded:
            return
        self._recorded = True
        try:
            settle(self.ctx, outcome)  # the tenant's limits: the estimate replaced by the answer's usage
        except Exception:
            log.exception("settling limits failed for request %s", self.ctx.request_id)
        self.observer.record(self.ctx, self.status, self.error, outcome)
