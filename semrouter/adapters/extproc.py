"""Envoy external processor: the same pipeline as the HTTP proxy, with Envoy making the upstream call.

Envoy opens one ``envoy.service.ext_proc.v3.ExternalProcessor/Process`` stream per HTTP request and
sends us its phases in order; each message gets exactly one answer. Each message is a gRPC round trip
through this Python process, and the stream itself costs about as much again, so the shipped Envoy
configs ask for as few as the config needs (deploy/envoy/README.md, "Cost"):

* request headers: remember method, path and headers, check method, content type and size. The shipped
  configs call us only for the OpenAI API paths (ext_proc is off on Envoy's other routes); any other
  path gets a mode override that skips every later phase, so Envoy stops asking us about it. (Skipping
  this phase does not work: Envoy then sends the headers upstream before the body phase's answer, so
  neither the route nor ``content-length`` could change.)
* request body (``BUFFERED``: the whole body in one message): build a :class:`RequestContext`, run the
  pipeline, and answer with the rewritten body, a matching ``content-length`` and the routing header
  (``x-selected-model``) with ``clear_route_cache`` so Envoy re-picks the route (the cluster of the chosen
  model); the ``x-vsr-*`` headers go to the client (below), never to the worker, as with the HTTP proxy.
  A block, an error or a cache hit becomes an ``ImmediateResponse``.
* response headers, only when something reads the answer (a stage that wants its body, online learning that
  needs its status, or ``extproc.response_phase: always``): note the status and set the ``x-vsr-*``
  headers. Otherwise the phase is skipped (a mode override), which saves a third of the round trips: the
  body's answer also carries the ``x-vsr-*`` headers as dynamic metadata (namespace ``semrouter``), and
  the shipped Envoy configs copy them into the answer (``%DYNAMIC_METADATA(semrouter:NAME)%``) after
  removing any a worker set (:data:`RESPONSE_HEADERS` lists them). The status and timing of such an
  answer are then Envoy's to record (access log, cluster stats); the decision log shows status 0 and
  ``response_not_observed``.
* response body (streamed or buffered, asked for only when a stage wants the answer body, e.g. the
  cache): keep a copy; at end of stream run the stages' response callbacks, as the proxy does after
  relaying. When the body is not watched, the callbacks run at the response headers.

Once Envoy needs nothing more from a stream (that answer sent, a reply of our own, a path we skip),
semrouter ends the stream itself: a clean close tells Envoy to go on without us, and the request's record
is made while the worker answers rather than on the next request's time.

No routing logic lives here: Envoy's route table maps the routing header to clusters, and retries,
timeouts and load balancing are Envoy's. If this service is down or slow, Envoy's
``failure_mode_allow: true`` sends the request on unchanged (the default route), see deploy/envoy/.

With ``extproc.http_port`` (``--http-port``) the same process and event loop also serve the proxy's
operator routes over HTTP (:class:`OperatorApp`): ``/metrics`` then counts the requests this service
routed, since the observer is the one the exchanges record into.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc
import orjson
import uvicorn
from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.ext_proc.v3 import processing_mode_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from envoy.type.v3 import http_status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from semrouter import cpu
from semrouter.adapters import extproc_h2 as h2
from semrouter.adapters.asgi import ASGIExchange, Receive, Scope, Send
from semrouter.adapters.exchange import header_value, respond_error, too_large
from semrouter.adapters.extproc_headers import METADATA_NAMESPACE
from semrouter.adapters.http_proxy import ProxyHandler
from semrouter.adapters.intake import API_PATHS, DIALECTS, Admission, check_content_type, check_method, error_body
from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.errors import RouterError
from semrouter.observe.usage import UsageSniffer
from semrouter.router import Router, Runtime
from semrouter.upstream.forward import CLIENT_KEY_HEADERS, router_owned

log = logging.getLogger("semrouter.extproc")

SERVICE_NAME = "envoy.service.ext_proc.v3.ExternalProcessor"
_Mode = processing_mode_pb2.ProcessingMode
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
# Not an OpenAI API request: Envoy should not call us again for it (needs allow_mode_override).
_SKIP_REST = _Mode(
    request_body_mode=_Mode.NONE,
    response_header_mode=_Mode.SKIP,
    response_body_mode=_Mode.NONE,
    request_trailer_mode=_Mode.SKIP,
    response_trailer_mode=_Mode.SKIP,
)
_BODY_MODES = {"streamed": _Mode.STREAMED, "buffered": _Mode.BUFFERED, "none": _Mode.NONE}
# Answers with nothing to change, built once: most phases of most requests get one of these.
_BODY_OK = pb.ProcessingResponse(request_body=pb.BodyResponse())
_RESPONSE_BODY_OK = pb.ProcessingResponse(response_body=pb.BodyResponse())
_RESPONSE_HEADERS_OK = pb.ProcessingResponse(response_headers=pb.HeadersResponse())


def response_body_mode(setting: str, wants_body: bool) -> str:
    """``auto``: watch the answer only when a stage needs its body (the cache). Every watched chunk is a
    gRPC round trip through this process, so an answer nobody reads is better left to Envoy alone."""
    if setting == "auto":
        return "streamed" if wants_body else "none"
    return setting


def _api_mode(response_body: str, response_headers: bool = True) -> Any:
    """The modes an API request needs: the whole request body at once (to rewrite it), and the answer's
    headers (when something reads the answer) and body in the chosen mode. Every field is explicit: an
    override replaces them all."""
    return _Mode(
        request_header_mode=_Mode.SEND,
        request_body_mode=_Mode.BUFFERED,
        response_header_mode=_Mode.SEND if response_headers else _Mode.SKIP,
        response_body_mode=_BODY_MODES[response_body],
        request_trailer_mode=_Mode.SKIP,
        response_trailer_mode=_Mode.SKIP,
    )


_API_ANSWERS: dict[tuple[str, bool], bytes] = {}


def _api_answer(response_body: str, response_headers: bool) -> bytes:
    """The request headers' answer for an API request: hold them for the body, with the modes it needs."""
    key = (response_body, response_headers)
    answer = _API_ANSWERS.get(key)
    if answer is None:
        msg = pb.ProcessingResponse(
            request_headers=pb.HeadersResponse(), mode_override=_api_mode(response_body, response_headers)
        )
        answer = _API_ANSWERS[key] = msg.SerializeToString()
    return answer


def _header(name: str, value: str | bytes) -> Any:
    raw = value if isinstance(value, bytes) else header_value(value)
    return base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=name, raw_value=raw), append_action=_OVERWRITE)


def _varint_slow(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_VARINTS = [_varint_slow(n) for n in range(1 << 14)]  # every length and tag of a header-sized field


def _varint(n: int) -> bytes:
    return _VARINTS[n] if n < 16384 else _varint_slow(n)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: the hot answers are assembled from bytes, not message objects."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _kept(cache: dict[tuple[str, str], bytes], name: str, value: str, build: Callable[[str, str], bytes]) -> bytes:
    """``build(name, value)``'s bytes for one header, kept per (name, value): most are the same on every
    request (the model, the decision). A long value is not kept, and the cache is emptied at 4,096 entries."""
    field = cache.get((name, value))
    if field is None:
        field = build(name, value)
        if len(value) <= 256:
            if len(cache) >= 4096:
                cache.clear()
            cache[(name, value)] = field
    return field


Build = Callable[[str, str], bytes]
_BLOCKS: dict[tuple[Build, tuple[tuple[str, str], ...]], bytes] = {}
_FIELDS: dict[Build, dict[tuple[str, str], bytes]] = {}


def _entries(build: Build, headers: dict[str, str], unique: str) -> bytes:
    """``build(name, value)`` for every header, joined. The bytes of the headers other than ``unique`` are
    kept per combination of values (answers repeat: model, decision, category); ``unique`` (the request id,
    new on every request) is built each time and never kept."""
    rest = tuple(item for item in headers.items() if item[0] != unique)
    key = (build, rest)
    block = _BLOCKS.get(key)
    if block is None:
        fields = _FIELDS.setdefault(build, {})
        block = b"".join(_kept(fields, k, v, build) for k, v in rest)
        if len(_BLOCKS) >= 1024:
            _BLOCKS.clear()
        _BLOCKS[key] = block
    value = headers.get(unique)
    return block if value is None else build(unique, value) + block


def _meta_entry(name: str, value: str) -> bytes:
    """A ``Struct.fields`` map entry: {1: key, 2: Value{3: string_value}}."""
    return _field(1, _field(1, name.encode()) + _field(2, _field(3, value.encode())))


_NAMESPACE = _field(1, METADATA_NAMESPACE.encode())


_META_HEADS: dict[tuple[tuple[tuple[str, str], ...], int], tuple[bytes, bytes]] = {}


def _metadata(headers: dict[str, str], unique: str = "") -> bytes:
    """``ProcessingResponse.dynamic_metadata`` (field 8) holding ``{"semrouter": {name: value, ...}}``.

    Protobuf frames a field by its length, before it: the message is the same bytes for every request but
    for the ``unique`` header's value (the request id), as long as that value has the same length. So it is
    kept as the bytes before that value and the bytes after it (~7 µs to assemble, ~1.5 to join)."""
    value = headers.get(unique)
    if value is None:
        inner = _entries(_meta_entry, headers, unique)  # Value{5: struct_value}
        return _field(8, _field(1, _NAMESPACE + _field(2, _field(5, inner))))
    raw = value.encode()
    rest = tuple(item for item in headers.items() if item[0] != unique)
    key = (rest, len(raw))
    parts = _META_HEADS.get(key)
    if parts is None:
        block = _entries(_meta_entry, dict(rest), unique)
        entry = _field(1, _field(1, unique.encode()) + _field(2, _field(3, b"\0" * len(raw))))
        whole = _field(8, _field(1, _NAMESPACE + _field(2, _field(5, entry + block))))
        parts = (whole[: len(whole) - len(block) - len(raw)], block)  # the value is the entry's last bytes
        if len(_META_HEADS) >= 1024:
            _META_HEADS.clear()
        _META_HEADS[key] = parts
    return parts[0] + raw + parts[1]


def _set_entry(name: str, value: str) -> bytes:
    """A ``HeaderMutation.set_headers`` entry (field 1). Assembled as bytes, and kept (see :func:`_entries`):
    building the message objects cost ~50 µs per answer."""
    return _field(1, _header(name, value).SerializeToString())


def _mutation_bytes(headers: dict[str, str], remove: Iterable[str] = (), unique: str = "") -> bytes:
    """A serialized ``HeaderMutation``: set ``headers`` and remove the ``remove`` ones (those that ``headers``
    sets are left to be overwritten); ``unique`` names a header whose value is new on every request."""
    parts = [_entries(_set_entry, headers, unique)]
    for k in remove:
        if k not in headers:
            parts.append(_field(2, k.encode("latin-1")))  # remove_headers
    return b"".join(parts)


def _mutation(headers: dict[str, str], remove: Iterable[str] = ()) -> Any:
    return pb.HeaderMutation.FromString(_mutation_bytes(headers, remove))


def _router_owned(names: Iterable[str], routing_header: str) -> list[str]:
    """The ``x-vsr-*`` headers and the routing header among ``names``: only the router may set those
    (a client's must not reach the worker, a worker's must not reach the client: see ``router_owned``)."""
    return [k for k in names if router_owned(k.encode("latin-1")) or k == routing_header]


def _header_map(msg: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The request's headers and, apart, its pseudo-headers (``:method``, ``:path``), in one pass. Envoy
    sends values in ``raw_value`` (bytes); older versions used ``value``."""
    headers: dict[str, str] = {}
    pseudo: dict[str, str] = {}
    for h in msg.headers.headers:
        key, raw = h.key, h.raw_value
        (pseudo if key[:1] == ":" else headers)[key] = raw.decode("latin-1") if raw else h.value
    return headers, pseudo


Parsed = tuple[dict[str, str], dict[str, str], bool]  # headers, pseudo-headers, end_of_stream
_PARSED: dict[bytes, Parsed] = {}


def parse_request_headers(data: bytes, unique: str) -> Parsed | None:
    """A serialized ``ProcessingRequest`` whose phase is the request's headers, parsed with a memo: None for
    any other phase.

    Reading ~10 headers out of the message costs ~12 µs (a Python object per field), and Envoy sends the
    same headers, byte for byte, on every request of a client but for one: the request id (``unique``)
    that it generates. So the bytes with that one value cut out are the memo's key, and the value is
    added back to a copy of what they parsed to. Header values cannot hold the bytes that frame the
    field (``\n`` before the name, the length bytes), so the first match is the field; a value of 128
    bytes or more, or a second header of the name, is parsed each time."""
    if data[:1] != b"\x12":  # field 2, request_headers: Envoy writes it first
        return None
    name = unique.encode("latin-1")
    mark = b"\n" + bytes((len(name),)) + name + b"\x1a"  # the name's field, then the value's tag
    at = data.find(mark) if len(name) < 128 else -1
    value: str | None = None
    key = data
    if at >= 0:
        start = at + len(mark) + 1  # past the value's length
        size = data[start - 1]
        if size < 0x80 and data.find(mark, start) < 0:
            value = data[start : start + size].decode("latin-1")
            key = data[:start] + data[start + size :]
        else:  # a long value, or the name twice: parsed each time
            msg = pb.ProcessingRequest.FromString(data).request_headers
            return (*_header_map(msg), msg.end_of_stream)
    parsed = _PARSED.get(key)
    if parsed is None:
        msg = pb.ProcessingRequest.FromString(data).request_headers
        headers, pseudo = _header_map(msg)
        kept = {k: v for k, v in headers.items() if k != unique} if value is not None else headers  # key lacks it
        parsed = (kept, pseudo, msg.end_of_stream)
        if len(_PARSED) >= 256:
            _PARSED.clear()
        _PARSED[key] = parsed
    headers, pseudo, end = parsed
    headers = dict(headers)
    if value is not None:
        headers[unique] = value
    return headers, pseudo, end


def immediate(status: int, body: bytes, content_type: str, headers: dict[str, str], details: str) -> Any:
    """A reply Envoy sends to the client itself; the request never reaches a worker."""
    return pb.ProcessingResponse(
        immediate_response=pb.ImmediateResponse(
            status=http_status_pb2.HttpStatus(code=status),
            headers=_mutation({"content-type": content_type, **headers}),
            body=body,
            details=details,
        )
    )


def error_response(err: RouterError, headers: dict[str, str]) -> Any:
    return immediate(
        err.status, err.body(), "application/json", {**headers, **err.headers}, f"semrouter_{err.code or 'error'}"
    )


def served_model(ctx: RequestContext) -> str | None:
    """The name the chosen model's workers expect, when all its endpoints agree on one.

    The HTTP proxy renames per endpoint; behind Envoy we do not know the endpoint, so only a
    model-wide ``served_model`` can be applied.
    """
    model = ctx.config.model(ctx.model) if ctx.model else None
    if model is None:
        return None
    names = {e.served_model for e in model.endpoints}
    name = names.pop() if len(names) == 1 else None
    return name if name and name != ctx.body.get("model") else None


class Exchange:
    """One HTTP request as seen over one ext_proc stream."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.runtime: Runtime = router.runtime  # one config snapshot for the whole request
        self.api: ApiKind | None = None
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.ctx: RequestContext | None = None  # set once the request goes upstream through Envoy
        self.admission: Admission | None = None  # the intake's record of it, made once its answer ends
        self.outcome = ResponseOutcome(status=0, completed=False)
        self.keep = False
        self.kept: list[bytes] = []
        self.finished = False  # response callbacks are due (end of stream seen)
        self.settling = False  # they were handed to a background task
        # Envoy will send nothing more that needs us: the stream can end now (a clean close tells Envoy to go
        # on without us), so the record is made while the worker answers instead of after the answer
        self.complete = False
        self.sniffer = UsageSniffer()  # token usage in the answer, when Envoy shows it to us
        self.body_mode = response_body_mode(
            self.runtime.config.extproc.response_body, self.runtime.pipeline.wants_response_body
        )
        # the answer's headers phase: only when something reads the answer (see the module docstring)
        self.watch = (
            self.body_mode != "none"
            or self.runtime.config.extproc.response_phase == "always"
            or getattr(getattr(router, "learning", None), "watches_outcomes", False)
        )

    async def handle_bytes(self, data: bytes) -> Any:
        """:meth:`handle` for a serialized message: the request's headers go through the memo of
        :func:`parse_request_headers`."""
        parsed = parse_request_headers(data, self.runtime.config.server.request_id_header)
        if parsed is not None:
            return await self._request_headers(*parsed)
        return await self.handle(pb.ProcessingRequest.FromString(data))

    async def handle(self, req: Any) -> Any:
        """The answer to one message: a ``ProcessingResponse``, or its serialized bytes (the answers every
        request gets are assembled as bytes)."""
        kind = req.WhichOneof("request")
        if kind == "request_headers":
            msg = req.request_headers
            return await self._request_headers(*_header_map(msg), msg.end_of_stream)
        if kind == "request_body":
            return await self._request_body(req.request_body)
        if kind == "response_headers":
            return self._response_headers(req.response_headers)
        if kind == "response_body":
            return self._response_body(req.response_body)
        if kind == "request_trailers":
            return pb.ProcessingResponse(request_trailers=pb.TrailersResponse())
        if kind == "response_trailers":
            self.finished = self.ctx is not None  # trailers close the answer
            self.outcome.completed = True
            return pb.ProcessingResponse(response_trailers=pb.TrailersResponse())
        raise ValueError(f"unexpected ext_proc message {kind!r}")

    # -- request ---------------------------------------------------------------------------------

    def _admit(self, method: str, path: str, headers: dict[str, str]) -> Any | None:
        """Checks that need only the request line and headers (``headers`` without the pseudo-headers): an
        answer when they end the request here (or let it pass unchanged: not an API path), None when the body
        decides."""
        self.api = API_PATHS.get(path)
        if path in DIALECTS:  # answers would need translating in Envoy's response path: the HTTP proxy does it
            err = RouterError(
                501,
                f"{path} is served by the semrouter HTTP proxy only, not through Envoy ext_proc; "
                "send it to the proxy or use /v1/chat/completions",
                type="server_error",
                code="api_not_served_here",
            )
            return immediate(501, error_body(path, err), "application/json", {}, "semrouter_api_not_served_here")
        if self.api is None:  # not ours: models listing, health, anything else goes through unchanged
            return None
        cfg = self.runtime.config
        try:
            check_method(method, path)
            check_content_type(headers)
        except RouterError as err:
            return error_response(err, {})
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cfg.server.max_body_bytes:
            return error_response(too_large(cfg.server.max_body_bytes), {})
        self.headers = headers
        return None

    async def _request_headers(self, headers: dict[str, str], pseudo: dict[str, str], end: bool) -> Any:
        early = self._admit(pseudo.get(":method", ""), pseudo.get(":path", "").split("?", 1)[0], headers)
        if early is not None:
            self.complete = True
            return early
        if self.api is None:
            self.complete = True
            return pb.ProcessingResponse(request_headers=pb.HeadersResponse(), mode_override=_SKIP_REST)
        if end:  # no body will follow: decide now (the parse stage rejects an empty body)
            return await self._decide(b"", phase="request_headers")
        return _api_answer(self.body_mode, self.watch)

    async def _request_body(self, msg: Any) -> Any:
        if self.api is None:
            return _BODY_OK
        self.chunks.append(msg.body)
        if not msg.end_of_stream:
            # Only a BUFFERED request body can be rewritten; a chunk already on its way upstream cannot.
            log.warning("request body arrived in parts: set request_body_mode BUFFERED; request passed through")
            self.api = None
            return _BODY_OK
        body = b"".join(self.chunks)
        self.chunks = []
        limit = self.runtime.config.server.max_body_bytes
        if len(body) > limit:
            return error_response(too_large(limit), {})
        return await self._decide(body, phase="request_body")

    async def _decide(self, body: bytes, phase: str) -> Any:
        assert self.api is not None
        runtime = self.runtime
        cfg = runtime.config
        # no client address: Envoy is the peer, so a tenant header is never trusted here (a key is needed)
        req = Admission(runtime, self.router.observer, self.api, body, self.headers, tenancy=self.router.tenancy)
        ctx = req.ctx
        routed = await req.route()
        if routed is not None:  # answered here (an error, a block, a cache hit): observed once it is built
            self.complete = True
            try:
                if isinstance(routed, RouterError):
                    return error_response(routed, req.error_headers())
                return await self._local(ctx, routed)
            finally:
                req.record()
        self.ctx, self.admission = ctx, req
        self.keep = runtime.pipeline.wants_response_body
        new_body = ctx.encoded_body()
        rename = served_model(ctx)
        if rename is not None:
            new_body = orjson.dumps({**ctx.body, "model": rename})
        shown = ctx.routing_headers()  # for the client: in the metadata, copied into the answer by Envoy
        assert ctx.model is not None
        # for the worker: the routing header, and what the proxy would send too (never the x-vsr-* headers,
        # which describe routing to the client; every header set here is work for Envoy and the worker)
        headers = {cfg.extproc.routing_header: ctx.model}
        rid_header = cfg.server.request_id_header
        if self.headers.get(rid_header) != ctx.request_id:  # Envoy's own request id is the usual one
            headers[rid_header] = ctx.request_id
        if ctx.trace.traceparent is not None:  # tracing on: Envoy's request to the worker continues our trace
            headers["traceparent"] = ctx.trace.traceparent
        replaced = ctx.body_modified or rename is not None
        if replaced:
            headers["content-length"] = str(len(new_body))
        strip = _router_owned(self.headers, cfg.extproc.routing_header)
        if cfg.tenancy is not None:  # the client's key is the gateway's, never a worker's
            strip += [k for k in self.headers if k in CLIENT_KEY_HEADERS]
        if not self.watch:  # Envoy relays the answer without asking us: its status is not observed
            self.outcome.error = "response_not_observed"
            self.complete = True
        # CommonResponse {1: status, 2: header_mutation, 3: body_mutation {1: body}, 5: clear_route_cache}
        common = _field(2, _mutation_bytes(headers, strip, rid_header))
        if replaced:
            common += _field(3, _field(1, new_body))
        common += b"\x28\x01"
        if phase == "request_headers":
            if replaced:
                common = b"\x08\x01" + common  # CONTINUE_AND_REPLACE
            answer = _field(1, _field(1, common))  # ProcessingResponse {1: request_headers {1: response}}
        else:
            answer = _field(3, _field(1, common))  # ProcessingResponse {3: request_body {1: response}}
        return answer + _metadata(shown, rid_header)

    async def _local(self, ctx: RequestContext, local: LocalResponse) -> Any:
        """A block or cache hit: Envoy answers from our bytes; a stream hit is sent as one SSE body."""
        body = local.body
        if local.chunks is not None:
            body = b"".join([chunk async for chunk in local.chunks])
        headers = {**ctx.routing_headers(), **local.headers}
        return immediate(local.status, body, local.content_type, headers, f"semrouter_{ctx.local_stage or 'local'}")

    # -- response --------------------------------------------------------------------------------

    def _response_headers(self, msg: Any) -> Any:
        ctx = self.ctx
        if ctx is None:
            return _RESPONSE_HEADERS_OK
        routing_header = ctx.config.extproc.routing_header
        status, strip = "0", []
        for h in msg.headers.headers:  # one pass: the status, and the router's headers a worker must not set
            if h.key == ":status":
                status = h.raw_value.decode("latin-1") if h.raw_value else h.value
            elif h.key.startswith("x-") and (router_owned(h.key.encode("latin-1")) or h.key == routing_header):
                strip.append(h.key)
        self.outcome.status = int(status) if status.isdigit() else 0
        ctx.timings.upstream_headers = time.perf_counter()
        if msg.end_of_stream:
            self._end()
        elif self.body_mode == "none":  # Envoy relays the answer without us: its end is not observed
            self.outcome.error = "body_not_observed"
            self.finished = True
        # ProcessingResponse {2: response_headers {1: response {2: header_mutation}}}
        mutation = _mutation_bytes(ctx.routing_headers(), strip, ctx.config.server.request_id_header)
        return _field(2, _field(1, _field(2, mutation)))

    def _response_body(self, msg: Any) -> Any:
        if self.ctx is not None:
            self.sniffer.feed(msg.body)
            if self.keep:
                self.kept.append(msg.body)
            if msg.end_of_stream:
                self._end()
        return _RESPONSE_BODY_OK

    def _end(self) -> None:
        self.outcome.completed = True
        self.finished = True

    async def finish(self) -> None:
        """The stages' response callbacks (cache store, usage), once per routed request."""
        ctx, self.ctx = self.ctx, None
        if ctx is None or self.admission is None:
            return
        if self.keep:
            self.outcome.body = b"".join(self.kept)
            self.kept = []
        if not self.outcome.completed and self.outcome.error is None:
            self.outcome.error = "stream_reset" if self.outcome.status else "no_response"
        await self.runtime.pipeline.run_response(ctx, self.outcome)
        if self.sniffer.first_byte is not None:
            ctx.upstream.sniffer = self.sniffer
        self.admission.record(self.outcome)


class ExternalProcessor(pb_grpc.ExternalProcessorServicer):  # type: ignore[misc]
    """The gRPC service; one :class:`Exchange` per stream."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._background: set[asyncio.Task[None]] = set()

    async def Process(self, request_iterator: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
        """grpcio's entry point (``extproc.grpc_server: grpcio``)."""
        ex = Exchange(self.router)
        try:
            async for req in request_iterator:
                answer = await ex.handle(req)
                yield pb.ProcessingResponse.FromString(answer) if isinstance(answer, bytes) else answer
                if ex.complete:  # nothing more is due: end the call (Envoy goes on without us)
                    return
                if ex.finished:  # after the last chunk went back to Envoy: the client is not kept waiting
                    await ex.finish()
        finally:
            self._settle(ex)

    async def process_stream(self, stream: h2.Stream) -> None:
        """The native server's entry point: the same exchange. The response callbacks run as a task of
        their own, so the answer goes to Envoy first (with the other writes of this loop turn)."""
        ex = Exchange(self.router)
        try:
            while (data := await stream.next()) is not None:
                answer = await ex.handle_bytes(data)
                # nothing more due (ex.complete): the stream ends with OK, Envoy goes on without us
                raw = answer if isinstance(answer, bytes) else answer.SerializeToString()
                await stream.conn.send(stream, raw, last=ex.complete)
                if ex.finished:
                    self._settle(ex)
                if ex.complete:
                    return
        finally:
            self._settle(ex)

    def _settle(self, ex: Exchange) -> None:
        """The response callbacks in the background: at the end of the answer, or when the stream was reset
        (client gone, upstream failed) before it; once per exchange."""
        if ex.ctx is not None and not ex.settling:
            ex.settling = True
            task = asyncio.get_running_loop().create_task(ex.finish())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


class Health:
    """``grpc.health.v1.Health`` for the native server: Check, and Watch (the status now, then each change)."""

    def __init__(self) -> None:
        self.status = {name: health_pb2.HealthCheckResponse.NOT_SERVING for name in ("", SERVICE_NAME)}
        self.changed = asyncio.Event()

    def set(self, status: int) -> None:
        for name in self.status:
            self.status[name] = status
        self.changed.set()
        self.changed = asyncio.Event()

    def _service(self, data: bytes | None) -> str | None:
        name = health_pb2.HealthCheckRequest.FromString(data or b"").service
        return name if name in self.status else None

    async def check(self, stream: h2.Stream) -> None:
        name = self._service(await stream.next())
        if name is None:
            stream.conn.end_stream(stream, h2.NOT_FOUND, "unknown service")
            return
        await stream.conn.send(stream, health_pb2.HealthCheckResponse(status=self.status[name]).SerializeToString())

    async def watch(self, stream: h2.Stream) -> None:
        data = await stream.next()
        name = self._service(data)
        while True:
            status = self.status[name] if name is not None else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
            await stream.conn.send(stream, health_pb2.HealthCheckResponse(status=status).SerializeToString())
            changed = self.changed
            waiter = asyncio.ensure_future(changed.wait())
            try:
                while not changed.is_set():
                    if stream.reset:
                        return
                    await asyncio.wait([waiter], timeout=1)
            finally:
                waiter.cancel()


class OperatorApp:
    """The proxy's HTTP routes for operators (metrics, health, status, dry run, dashboard, cache admin) as
    an ASGI app, without the OpenAI API: behind Envoy, requests must go through the gateway, where
    retries, limits and the route table apply, not around it."""

    def __init__(self, router: Router) -> None:
        self.handler = ProxyHandler(router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no lifespan: serve_extproc starts and stops the router
            return
        ex = ASGIExchange(scope, receive, send)
        if ex.path in API_PATHS or ex.path in DIALECTS:
            msg = f"{ex.path} is not served on the ext_proc process's operator port; send it through the Envoy gateway"
            await respond_error(ex, RouterError(404, msg, code="not_found"))
            return
        await self.handler.handle(ex)


class _InLoopServer(uvicorn.Server):
    """uvicorn as a task of an event loop it does not own: the signals stay with :func:`serve_extproc`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


def _listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """Bind before anything starts, so a taken port fails the start-up with a plain error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024, reuse_port=reuse_port)
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port} for HTTP: {exc.strerror}") from None


async def _serve_http(router: Router, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        OperatorApp(router),
        lifespan="off",
        http="httptools",
        access_log=False,
        log_config=None,  # keep semrouter's logging set-up
        timeout_graceful_shutdown=2,  # a dashboard's event stream must not hold up the exit
    )
    server = _InLoopServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.01)
    return server, task


class _NativeFront:
    """The gRPC side on semrouter's own HTTP/2 server: ``Process`` and the health service."""

    def __init__(self, processor: ExternalProcessor, router: Router, host: str, port: int, reuse_port: bool) -> None:
        self.status = Health()
        self.server = h2.GrpcServer(
            {
                f"/{SERVICE_NAME}/Process": processor.process_stream,
                "/grpc.health.v1.Health/Check": self.status.check,
                "/grpc.health.v1.Health/Watch": self.status.watch,
            },
            # room for a body over the limit, so that it gets the processor's 413 rather than a failed call
            # (which Envoy's failure_mode_allow would let through unprocessed), plus headers and attributes
            max_message=2 * router.runtime.config.server.max_body_bytes + (1 << 20),
        )
        self.sock = h2.listen(host, port, reuse_port)  # bound now: a taken port fails the start-up at once

    async def prepare(self) -> None:
        """Nothing to do before the router starts: the port is bound, health says NOT_SERVING."""

    async def start(self) -> None:
        await self.server.start(self.sock)
        self.status.set(health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_s: float) -> None:
        self.status.set(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace_s)


class _GrpcioFront:
    """The same on grpcio's asyncio server (``extproc.grpc_server: grpcio``)."""

    def __init__(self, processor: ExternalProcessor, host: str, port: int) -> None:
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        self.checker = health.aio.HealthServicer()
        pb_grpc.add_ExternalProcessorServicer_to_server(processor, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.checker, self.server)
        if self.server.add_insecure_port(f"{host}:{port}") == 0:
            raise OSError(f"cannot listen on {host}:{port}")

    async def _set(self, status: int) -> None:
        for name in ("", SERVICE_NAME):
            await self.checker.set(name, status)

    async def prepare(self) -> None:
        await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def start(self) -> None:
        await self.server.start()
        await self._set(health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_s: float) -> None:
        await self.checker.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def serve_extproc(
    router: Router,
    host: str,
    port: int,
    grace_s: float,
    http_port: int | None = None,
    *,
    grpc_server: str = "native",
    reuse_port: bool = False,
) -> None:
    """Run until SIGTERM/SIGINT, then stop taking streams and give in-flight ones ``grace_s`` to finish.

    The health service says NOT_SERVING until the router (embedding model warmed) is ready, and again
    from the start of shutdown, so an Envoy health check takes this instance out before it goes. The
    operator HTTP port (``http_port``) is up before SERVING and closes last, so the drain can be watched.
    """
    processor = ExternalProcessor(router)
    front: _NativeFront | _GrpcioFront
    if grpc_server == "native":
        front = _NativeFront(processor, router, host, port, reuse_port)
    else:
        front = _GrpcioFront(processor, host, port)
    await front.prepare()
    sock = _listen(host, http_port, reuse_port) if http_port else None
    await router.start()
    http: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
    if sock is not None:
        http = await _serve_http(router, sock)
        log.info("operator HTTP (metrics, health, status, dashboard) on %s:%d", host, http_port)
    await front.start()
    log.info("ext_proc (%s gRPC server) listening on %s:%d", grpc_server, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down: draining streams for up to %gs", grace_s)
        await front.stop(grace_s)
        await processor.drain()
        if http is not None:
            http[0].should_exit = True
            with contextlib.suppress(Exception):
                await http[1]
        with contextlib.suppress(Exception):
            await router.stop()


def run(
    config_path: str,
    host: str,
    port: int,
    grace_s: float,
    log_level: str = "warning",
    http_port: int | None = None,
    *,
    grpc_server: str = "native",
    workers: int = 1,
) -> None:
    """Serve in this process, or in ``workers`` processes sharing the ports (SO_REUSEPORT): Envoy's
    connections are spread among them by the kernel, and one scrape of the operator port counts them all
    (prometheus-client's multiprocess mode, as ``semrouter serve --workers``)."""
    if workers <= 1:
        _run_one(config_path, host, port, grace_s, log_level, http_port, grpc_server, False)
        return
    import multiprocessing

    from semrouter.server import metrics_dir

    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each: no gRPC or loop state crosses
    with metrics_dir():
        procs = [
            spawn.Process(
                target=_run_one,
                args=(config_path, host, port, grace_s, log_level, http_port, grpc_server, True),
                name=f"semrouter-extproc-{i}",
            )
            for i in range(workers)
        ]
        stopping = False

        def forward(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True
            for proc in procs:
                if proc.pid is not None and proc.exitcode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signum)

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, forward)
        for proc in procs:
            proc.start()
        while any(proc.exitcode is None for proc in procs):
            for proc in procs:
                proc.join(0.2)
                if proc.exitcode not in (None, 0) and not stopping:  # one died: take the rest down, fail
                    log.error("ext_proc worker %s exited with %s: stopping", proc.name, proc.exitcode)
                    forward(signal.SIGTERM, None)
    if any(proc.exitcode for proc in procs) and not stopping:
        raise SystemExit(1)


def _run_one(
    config_path: str,
    host: str,
    port: int,
    grace_s: float,
    log_level: str,
    http_port: int | None,
    grpc_server: str,
    reuse_port: bool,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("semrouter").setLevel(log_level.upper())
    cpu.tune_process()
    router = Router.from_file(config_path)
    main = serve_extproc(router, host, port, grace_s, http_port, grpc_server=grpc_server, reuse_port=reuse_port)
    if grpc_server == "native":  # grpcio's asyncio server wants the standard loop; ours runs on either
        with contextlib.suppress(ImportError):
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(main)
            return
    asyncio.run(main)
