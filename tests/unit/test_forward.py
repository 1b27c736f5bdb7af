"""The forwarder's retries, fallbacks, ejection and timeouts, on the in-memory upstream.

Every test runs the real :class:`UpstreamClient` (request bytes, llhttp parsing, keep-alive, timers) on a
:class:`MockTransport`, so a refused connection, a 503, a stalled or reset stream is exactly what the
client would see from a socket, without a port or a process. Endpoints are named by host (``w1``, ``w2``
...) and ``MockTransport`` records every connection attempt and request, so each test checks which
upstream was asked, in which order and how often: the difference between one POST and two is the
difference between one generation and a duplicate.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext
from semrouter.errors import RouterError
from semrouter.pool.endpoint import Endpoint
from semrouter.pool.policies import POLICIES
from semrouter.pool.pool import ModelPool
from semrouter.upstream.client import UpstreamClient, UpstreamError, UpstreamResponse, UpstreamTimeout
from semrouter.upstream.forward import Forwarder, model_chain
from semrouter.upstream.mock import MockReply, MockRequest, MockTransport

F = TypeVar("F", bound=Callable[..., Awaitable[None]])
PATH = "/v1/chat/completions"
OK = MockReply.json({"choices": [{"message": {"content": "hi"}}]})


def bounded(test: F) -> F:
    """A forwarder that loops or waits forever must fail its test, not hang the lane: 5 s each."""

    @functools.wraps(test)
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(5):
            await test(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


Reply = MockReply | Callable[[MockRequest], MockReply]


class Upstreams:
    """Workers by host name: a reply per host (a callable for per-request answers; ``"*"`` for any host),
    refused hosts, and the connect attempts in order."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        self.replies = replies
        self.refused: set[str] = set()
        self.refuse_first = 0  # refuse this many connection attempts, whichever hosts they go to
        self.hang_first = 0  # this many connection attempts hang (a black-holed host), whichever hosts
        self.attempts: list[str] = []  # hosts, in the order the client tried to connect
        self.mock = MockTransport(self.answer, on_connect=self.connect)

    async def connect(self, host: str, port: int) -> None:
        self.attempts.append(host)
        if len(self.attempts) <= self.hang_first:
            await asyncio.sleep(10)
        if host in self.refused or len(self.attempts) <= self.refuse_first:
            raise ConnectionRefusedError(f"{host}: connection refused")

    def answer(self, request: MockRequest) -> MockReply:
        reply = self.replies.get(request.host) or self.replies["*"]
        return reply(request) if callable(reply) else reply

    def asked(self) -> list[str]:
        """Hosts that received a request, in order."""
        return [r.host for r in self.mock.requests]


def in_turn(*replies: MockReply) -> Callable[[MockRequest], MockReply]:
    """The first request gets the first reply, the next the next...; the last one repeats. Lets a test
    fail "whichever endpoint is tried first" without depending on the pick policy."""
    served = 0

    def answer(request: MockRequest) -> MockReply:
        nonlocal served
        served += 1
        return replies[min(served, len(replies)) - 1]

    return answer


def setup(
    models: dict[str, list[str]],
    fallback: dict[str, list[str]] | None = None,
    connect_timeout: float = 5.0,
    api_keys: dict[str, str] | None = None,
    **pool: Any,
) -> tuple[RouterConfig, dict[str, ModelPool]]:
    """A config and pools for ``models`` (name -> endpoint hosts); ``api_keys`` maps a host to the env
    var holding its key; ``pool`` overrides the pool section."""
    cfg = RouterConfig.model_validate(
        {
            "models": [
                {
                    "name": name,
                    "endpoints": [
                        {"url": f"http://{host}:8000", "api_key_env": (api_keys or {}).get(host)} for host in hosts
                    ],
                    "fallback": (fallback or {}).get(name, []),
                }
                for name, hosts in models.items()
            ],
            "decisions": [{"name": "default", "models": [{"model": next(iter(models))}]}],
            "pool": {"connect_timeout_s": connect_timeout, **pool},
        }
    )
    pools = {
        m.name: ModelPool(m, [Endpoint(m.name, ec) for ec in m.endpoints], POLICIES[cfg.pool.policy](cfg.pool))
        for m in cfg.models
    }
    return cfg, pools


def context(cfg: RouterConfig, model: str | None = None, **body: Any) -> RequestContext:
    model = model or cfg.models[0].name
    raw = json.dumps({"model": model, "messages": [{"role": "user", "content": "hello"}], **body}).encode()
    ctx = RequestContext(ApiKind.CHAT, raw, {}, cfg)
    ctx.body = json.loads(raw)
    ctx.model = model
    return ctx


def endpoint(pools: dict[str, ModelPool], host: str) -> Endpoint:
    return next(e for p in pools.values() for e in p.endpoints if e.url == f"http://{host}:8000")


def client(up: Upstreams, cfg: RouterConfig) -> UpstreamClient:
    return UpstreamClient(transport=up.mock, connect_timeout=cfg.pool.connect_timeout_s)


async def send(
    up: Upstreams,
    cfg: RouterConfig,
    pools: dict[str, ModelPool],
    ctx: RequestContext | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[RequestContext, Forwarder, UpstreamResponse]:
    ctx = ctx or context(cfg)
    fwd = Forwarder(client(up, cfg))
    resp = await fwd.send(ctx, pools, PATH, headers or [(b"content-type", b"application/json")])
    return ctx, fwd, resp


async def send_and_read(
    up: Upstreams, cfg: RouterConfig, pools: dict[str, ModelPool], ctx: RequestContext | None = None
) -> tuple[RequestContext, Forwarder, int, bytes]:
    """One whole exchange as the adapter runs it: send, read the body, finish (load released)."""
    ctx, fwd, resp = await send(up, cfg, pools, ctx)
    body = await resp.read()
    fwd.finish(ctx)
    return ctx, fwd, resp.status, body


async def router_error(
    up: Upstreams, cfg: RouterConfig, pools: dict[str, ModelPool], ctx: RequestContext | None = None
) -> RouterError:
    with pytest.raises(RouterError) as info:
        await send(up, cfg, pools, ctx)
    return info.value


def no_load_left(pools: dict[str, ModelPool]) -> bool:
    """Every attempt released its endpoint: a leaked count would skew least-loaded picks for good."""
    return all(e.outstanding == 0 for p in pools.values() for e in p.endpoints)


# -- retries within one model ----------------------------------------------------------------------------


@bounded
async def test_a_refused_connection_is_retried_on_the_next_endpoint() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]})
    up = Upstreams({"*": OK})
    up.refuse_first = 1
    ctx, fwd, status, body = await send_and_read(up, cfg, pools)
    assert status == 200 and json.loads(body)["choices"]
    first, second = up.attempts
    assert first != second and up.asked() == [second]
    assert ctx.endpoint is endpoint(pools, second) and fwd.retries == 1
    assert endpoint(pools, first).consecutive_failures == 1
    assert endpoint(pools, second).consecutive_failures == 0
    assert no_load_left(pools)


@bounded
async def test_a_connect_timeout_is_retried_on_the_next_endpoint() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]}, connect_timeout=0.05)
    up = Upstreams({"*": OK})
    up.hang_first = 1
    ctx, _fwd, status, _ = await send_and_read(up, cfg, pools)
    first, second = up.attempts
    assert status == 200 and first != second and up.asked() == [second]
    assert endpoint(pools, first).failures == 1
    assert ctx.endpoint is endpoint(pools, second) and no_load_left(pools)


@bounded
async def test_a_connection_dropped_before_any_byte_is_retried() -> None:
    """A fresh connection closed without a response byte: nothing was answered, so another endpoint may
    run the request."""
    cfg, pools = setup({"m": ["w1", "w2"]})
    up = Upstreams({"*": in_turn(MockReply.drop(), OK)})
    ctx, fwd, status, _ = await send_and_read(up, cfg, pools)
    first, second = up.asked()
    assert status == 200 and first != second and ctx.endpoint is endpoint(pools, second)
    assert fwd.retries == 1 and endpoint(pools, first).failures == 1 and no_load_left(pools)


@pytest.mark.parametrize("status", [502, 503])
@bounded
async def test_502_and_503_are_retried_on_another_endpoint(status: int) -> None:
    cfg, pools = setup({"m": ["w1", "w2"]})
    up = Upstreams({"*": in_turn(MockReply.json({"error": "overloaded"}, status), OK)})
    ctx, fwd, got, body = await send_and_read(up, cfg, pools)
    assert got == 200 and json.loads(body)["choices"]
    first, second = up.asked()
    assert first != second and fwd.retries == 1 and ctx.endpoint is endpoint(pools, second)
    assert endpoint(pools, first).failures == 1 and endpoint(pools, second).failures == 0
    assert no_load_left(pools)


@pytest.mark.parametrize(("status", "failure"), [(500, True), (504, True), (429, False), (400, False)])
@bounded
async def test_other_error_statuses_pass_through_without_a_retry(status: int, failure: bool) -> None:
    """Only 502/503 say the worker refused the request; a 500 or 504 may come after the work ran, and a
    429 belongs to the client (its SDK backs off). 5xx count towards ejection, 4xx do not."""
    cfg, pools = setup({"m": ["w1", "w2"]})
    up = Upstreams({"*": MockReply.json({"error": "no"}, status)})
    ctx, fwd, got, body = await send_and_read(up, cfg, pools)
    assert got == status and json.loads(body) == {"error": "no"}
    assert len(up.mock.requests) == 1 and fwd.retries == 0
    assert ctx.endpoint is not None and ctx.endpoint.failures == (1 if failure else 0)
    assert no_load_left(pools)


@bounded
async def test_out_of_retries_the_last_workers_503_reaches_the_client() -> None:
    cfg, pools = setup({"m": ["w1", "w2", "w3"]}, max_retries=1)
    up = Upstreams({h: MockReply.json({"error": h}, 503) for h in ("w1", "w2", "w3")})
    ctx, _fwd, status, body = await send_and_read(up, cfg, pools)
    assert len(up.mock.requests) == 2  # one try and one retry, not three
    assert status == 503 and json.loads(body) == {"error": up.asked()[-1]}  # the last answer, not the first
    assert ctx.endpoint is endpoint(pools, up.asked()[-1])
    assert no_load_left(pools)


@bounded
async def test_max_retries_bounds_the_attempts_then_503_no_healthy_endpoint() -> None:
    cfg, pools = setup({"m": ["w1", "w2", "w3", "w4"]}, max_retries=2)
    up = Upstreams({})
    up.refused = {"w1", "w2", "w3", "w4"}
    err = await router_error(up, cfg, pools)
    assert err.status == 503 and err.code == "no_healthy_endpoint"
    assert len(up.attempts) == 3 and len(set(up.attempts)) == 3  # 1 + max_retries, each endpoint once
    assert no_load_left(pools)


@bounded
async def test_no_retries_configured_means_one_attempt() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]}, max_retries=0)
    up = Upstreams({"*": MockReply.json({}, 503)})
    _ctx, fwd, status, _ = await send_and_read(up, cfg, pools)
    assert status == 503 and len(up.mock.requests) == 1 and fwd.retries == 0


# -- failures after the request may have run: never sent twice ------------------------------------------


@bounded
async def test_a_timeout_before_the_headers_is_504_and_not_retried() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]}, timeout_s=0.05)
    up = Upstreams({"*": MockReply(200, body=b"{}", delay=1.0)})
    err = await router_error(up, cfg, pools)
    assert err.status == 504 and err.code == "upstream_timeout"
    assert len(up.mock.requests) == 1  # the worker may be generating: a second one would double the work
    assert endpoint(pools, up.asked()[0]).failures == 1
    assert up.mock.closed_by_client == 1  # the timed-out connection is closed (the generation cancelled)
    assert no_load_left(pools)


@bounded
async def test_a_broken_response_head_is_502_and_not_retried() -> None:
    """The worker started answering and broke off: it read the request, so it is not sent again."""
    cfg, pools = setup({"m": ["w1", "w2"]})
    broken = MockReply(raw=b"HTTP/1.1 200 OK\r\ncontent-le", end="reset")
    up = Upstreams({"*": broken})
    err = await router_error(up, cfg, pools)
    assert err.status == 502 and err.code == "upstream_error"
    assert len(up.mock.requests) == 1 and no_load_left(pools)
    assert endpoint(pools, up.asked()[0]).failures == 1


@bounded
async def test_garbage_instead_of_http_is_502_and_not_retried() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]})
    up = Upstreams({"*": MockReply(raw=b"SSH-2.0-OpenSSH\r\n\r\n")})
    err = await router_error(up, cfg, pools)
    assert err.status == 502 and len(up.mock.requests) == 1 and no_load_left(pools)


@bounded
async def test_a_reused_connection_that_dies_while_working_is_502_not_a_second_post() -> None:
    """A keep-alive connection closed before any byte but after the stale window: the worker may have
    run the request, so neither the client nor the forwarder sends it again."""
    cfg, pools = setup({"m": ["w1"]})
    calls = 0

    def w1(request: MockRequest) -> MockReply:
        nonlocal calls
        calls += 1
        return OK if calls == 1 else MockReply.drop(delay=0.2)

    up = Upstreams({"w1": w1})
    fwd = Forwarder(client(up, cfg))
    ctx = context(cfg)
    resp = await fwd.send(ctx, pools, PATH, [])
    await resp.read()
    fwd.finish(ctx)
    with pytest.raises(RouterError) as info:
        await fwd.send(context(cfg), pools, PATH, [])
    assert info.value.status == 502
    assert calls == 2 and up.mock.connections == 1  # the same connection, and no fresh one for a retry
    assert no_load_left(pools)


@bounded
async def test_a_stale_keepalive_connection_is_retried_once_on_a_fresh_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closed right after the write (the server's idle close racing ours): the request cannot have been
    processed, so the client resends it on a new connection, transparently to the forwarder."""
    # "right after" is 50 ms in production; a loaded test machine may not run the loop that often
    monkeypatch.setattr(sys.modules[UpstreamClient.__module__], "STALE_WINDOW_S", 5.0)
    cfg, pools = setup({"m": ["w1"]})
    calls = 0

    def w1(request: MockRequest) -> MockReply:
        nonlocal calls
        calls += 1
        return MockReply.drop() if calls == 2 else OK

    up = Upstreams({"w1": w1})
    fwd = Forwarder(client(up, cfg))
    for _ in range(2):
        ctx = context(cfg)
        resp = await fwd.send(ctx, pools, PATH, [])
        assert resp.status == 200
        await resp.read()
        fwd.finish(ctx)
    assert calls == 3 and up.mock.connections == 2
    assert [r.connection for r in up.mock.requests] == [1, 1, 2]
    assert fwd.retries == 0 and endpoint(pools, "w1").failures == 0


# -- streaming: once bytes went out, the answer is the worker's ------------------------------------------


@bounded
async def test_no_retry_once_the_stream_started_a_mid_stream_reset_reaches_the_reader() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]})
    stream = MockReply(chunks=[b"data: 1\n\n", b"data: 2\n\n"], end="reset")
    up = Upstreams({"*": stream})
    ctx, fwd, resp = await send(up, cfg, pools, context(cfg, stream=True))
    assert resp.status == 200
    got = b""
    with pytest.raises(UpstreamError, match="mid-body"):
        async for chunk in resp.iter_chunks():
            got += chunk
    fwd.finish(ctx)
    assert got == b"data: 1\n\ndata: 2\n\n"  # what was streamed stays delivered
    assert len(up.mock.requests) == 1 and fwd.retries == 0 and no_load_left(pools)


@bounded
async def test_a_stream_that_goes_silent_ends_with_the_idle_timeout() -> None:
    cfg, pools = setup({"m": ["w1", "w2"]}, stream_idle_timeout_s=0.05)
    stall = MockReply(chunks=[b"data: 1\n\n"], end="stall")
    up = Upstreams({"*": stall})
    ctx, fwd, resp = await send(up, cfg, pools, context(cfg, stream=True))
    assert await resp.__anext__() == b"data: 1\n\n"
    with pytest.raises(UpstreamTimeout):
        await resp.__anext__()
    fwd.finish(ctx)
    assert len(up.mock.requests) == 1 and no_load_left(pools)


@bounded
async def test_slow_chunks_within_the_idle_timeout_all_arrive() -> None:
    cfg, pools = setup({"m": ["w1"]}, stream_idle_timeout_s=0.5)
    chunks = [b"data: %d\n\n" % i for i in range(5)]
    up = Upstreams({"w1": MockReply(chunks=chunks, chunk_delay=0.02)})
    ctx, fwd, resp = await send(up, cfg, pools, context(cfg, stream=True))
    assert b"".join([c async for c in resp.iter_chunks()]) == b"".join(chunks)
    fwd.finish(ctx)


@bounded
async def test_a_cancelled_request_releases_the_endpoint_and_closes_the_connection() -> None:
    """The client went away while the worker thought: the load count drops, the upstream connection
    closes (that is what stops a vLLM generation)."""
    cfg, pools = setup({"m": ["w1"]})
    up = Upstreams({"w1": MockReply(200, body=b"{}", delay=5.0)})
    task = asyncio.create_task(send(up, cfg, pools))
    while not up.mock.requests:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert no_load_left(pools) and up.mock.closed_by_client == 1
    assert endpoint(pools, "w1").failures == 0  # the client's leaving is not the worker's fault


# -- fallback models ------------------------------------------------------------------------------------


def test_the_fallback_chain_is_transitive_in_order_each_model_once() -> None:
    cfg, pools = setup(
        {"a": ["w1"], "b": ["w2"], "c": ["w3"], "d": ["w4"]},
        fallback={"a": ["b", "c"], "b": ["a", "d"], "c": ["b"]},
    )
    assert model_chain(context(cfg, "a"), pools) == ["a", "b", "c", "d"]
    assert model_chain(context(cfg, "c"), pools) == ["c", "b", "a", "d"]
    assert model_chain(context(cfg, "d"), pools) == ["d"]


@bounded
async def test_fallback_models_are_tried_in_order_when_a_models_endpoints_fail() -> None:
    cfg, pools = setup({"a": ["w1"], "b": ["w2"], "c": ["w3"]}, fallback={"a": ["b", "c"]})
    up = Upstreams({"w3": OK})
    up.refused = {"w1", "w2"}
    ctx, fwd, status, _ = await send_and_read(up, cfg, pools)
    assert status == 200 and up.attempts == ["w1", "w2", "w3"]
    assert ctx.model == "c" and ctx.response_headers["x-vsr-fallback-from"] == "a"
    assert up.mock.requests[0].json()["model"] == "c"  # the body names the model that answers
    assert fwd.retries == 2 and no_load_left(pools)


@bounded
async def test_each_fallback_model_gets_its_own_retry_budget() -> None:
    """With ``max_retries=0`` a model with three endpoints gets one attempt, and its fallback one more."""
    cfg, pools = setup({"a": ["w1", "w2", "w3"], "b": ["w4", "w5"]}, fallback={"a": ["b"]}, max_retries=0)
    up = Upstreams({"*": OK})
    up.refuse_first = 1
    ctx, fwd, status, _ = await send_and_read(up, cfg, pools)
    first, second = up.attempts
    assert first in ("w1", "w2", "w3") and second in ("w4", "w5")
    assert status == 200 and ctx.model == "b" and fwd.retries == 1

    up = Upstreams({"*": OK})
    up.refuse_first = 2
    err = await router_error(up, cfg, pools)
    assert err.status == 503 and len(up.attempts) == 2  # a's budget is not b's: no third attempt


@bounded
async def test_a_fallback_model_answering_503_is_returned_after_the_chain_ran_out() -> None:
    cfg, pools = setup({"a": ["w1"], "b": ["w2"]}, fallback={"a": ["b"]})
    up = Upstreams({"w1": MockReply.json({"e": 1}, 503), "w2": MockReply.json({"e": 2}, 503)})
    ctx, _fwd, status, body = await send_and_read(up, cfg, pools)
    assert up.asked() == ["w1", "w2"] and status == 503 and json.loads(body) == {"e": 2}
    assert ctx.model == "b" and ctx.response_headers["x-vsr-fallback-from"] == "a"
    assert no_load_left(pools)


@bounded
async def test_a_timeout_does_not_fall_back() -> None:
    cfg, pools = setup({"a": ["w1"], "b": ["w2"]}, fallback={"a": ["b"]}, timeout_s=0.05)
    up = Upstreams({"w1": MockReply(200, body=b"{}", delay=1.0), "w2": OK})
    err = await router_error(up, cfg, pools)
    assert err.status == 504 and up.asked() == ["w1"]


# -- ejection -------------------------------------------------------------------------------------------


class Clock:
    """The pool's clock, moved by hand: ejection and readmission tested without sleeping, and without a
    race against a loaded machine."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    for cls in (Endpoint, ModelPool):  # the modules that read ``time.monotonic()``, wherever they live
        monkeypatch.setattr(sys.modules[cls.__module__], "time", fake)
    return fake


@bounded
async def test_an_endpoint_is_ejected_after_n_failures_and_readmitted_after_its_cooldown(clock: Clock) -> None:
    """``a`` has one endpoint, ``b`` is its fallback: while w1 is ejected, requests go straight to w2
    without a connect attempt on w1; after the cooldown w1 is tried, and a success clears its record."""
    cfg, pools = setup(
        {"a": ["w1"], "b": ["w2"]},
        fallback={"a": ["b"]},
        ejection={"consecutive_failures": 2, "base_seconds": 10, "max_seconds": 300},
    )
    up = Upstreams({"w1": OK, "w2": OK})
    up.refused = {"w1"}
    w1 = endpoint(pools, "w1")
    for _ in range(2):
        ctx, *_ = await send_and_read(up, cfg, pools)
        assert ctx.model == "b"
    assert up.attempts == ["w1", "w2", "w1", "w2"] and w1.ejections == 1
    up.refused.clear()
    for advance in (0.0, 9.9):
        clock.now += advance
        up.attempts.clear()
        ctx, *_ = await send_and_read(up, cfg, pools)
        assert up.attempts == ["w2"] and ctx.model == "b"  # ejected: not even a connect attempt
    clock.now += 0.1
    up.attempts.clear()
    ctx, *_ = await send_and_read(up, cfg, pools)
    assert up.attempts == ["w1"] and ctx.model == "a"  # readmitted after the cooldown
    assert w1.ejections == 0 and w1.consecutive_failures == 0 and no_load_left(pools)


@bounded
async def test_503s_count_towards_ejection_and_the_back_off_doubles(clock: Clock) -> None:
    cfg, pools = setup(
        {"a": ["w1"], "b": ["w2"]},
        fallback={"a": ["b"]},
        ejection={"consecutive_failures": 1, "base_seconds": 10, "max_seconds": 25},
    )
    up = Upstreams({"w1": MockReply.json({}, 503), "w2": OK})
    w1 = endpoint(pools, "w1")
    cooldowns = []
    for _ in range(3):
        await send_and_read(up, cfg, pools)
        cooldowns.append(w1.ejected_until - clock.now)
        clock.now = w1.ejected_until
    assert up.asked() == ["w1", "w2"] * 3
    assert cooldowns == [10, 20, 25]  # the base, twice the base, then the cap


@bounded
async def test_a_model_whose_endpoints_are_all_down_is_503_without_a_connection() -> None:
    cfg, pools = setup({"a": ["w1", "w2"]})
    for e in pools["a"].endpoints:
        e.healthy = False  # as the active health check leaves them
    up = Upstreams({"*": OK})
    err = await router_error(up, cfg, pools)
    assert err.status == 503 and err.code == "no_healthy_endpoint" and up.attempts == []


# -- what the worker receives ---------------------------------------------------------------------------


@bounded
async def test_the_worker_gets_the_clients_bytes_untouched_unless_the_body_changed() -> None:
    cfg, pools = setup({"m": ["w1"]})
    up = Upstreams({"w1": OK})
    ctx = context(cfg)
    await send_and_read(up, cfg, pools, ctx)
    assert up.mock.requests[0].body == ctx.raw_body
    ctx = context(cfg)
    ctx.body["temperature"] = 0.1
    ctx.body_modified = True
    await send_and_read(up, cfg, pools, ctx)
    assert up.mock.requests[1].json()["temperature"] == 0.1


@bounded
async def test_hop_by_hop_and_router_owned_headers_never_reach_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W1_KEY", "sk-worker")
    cfg, pools = setup({"m": ["w1"]}, api_keys={"w1": "W1_KEY"})
    up = Upstreams({"w1": OK})
    ctx = context(cfg)
    client_headers = [
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer sk-client"),
        (b"connection", b"upgrade"),
        (b"upgrade", b"h2c"),
        (b"x-vsr-selected-model", b"forged"),
        (b"x-selected-model", b"forged"),
        (b"x-custom", b"kept"),
    ]
    _, fwd, resp = await send(up, cfg, pools, ctx, client_headers)
    await resp.read()
    fwd.finish(ctx)
    got = up.mock.requests[0]
    assert got.header("authorization") == "Bearer sk-worker"  # the endpoint's key, never the client's
    assert [v for n, v in got.headers if n == b"authorization"] == [b"Bearer sk-worker"]
    assert got.header("upgrade") is None and got.header("connection") == "keep-alive"
    assert got.header("x-vsr-selected-model") is None and got.header("x-selected-model") is None
    assert got.header("x-custom") == "kept"
    assert got.header(cfg.server.request_id_header) == ctx.request_id


# -- the in-memory upstream behaves like a socket where it matters -----------------------------------------


@bounded
async def test_a_slow_reader_pauses_the_upstream_and_still_gets_every_byte() -> None:
    """Backpressure crosses the seam: past the client's high-water mark the transport is paused (a slow
    client never makes the proxy buffer a whole answer), and resumes as the reader drains it."""
    cfg, pools = setup({"m": ["w1"]})
    chunks = [bytes([65 + i]) * 65536 for i in range(8)]  # 512 KB, twice the high-water mark
    up = Upstreams({"w1": MockReply(chunks=chunks)})
    ctx, fwd, resp = await send(up, cfg, pools, context(cfg, stream=True))
    for _ in range(20):  # let the upstream push as much as it is allowed to
        await asyncio.sleep(0)
    assert up.mock.pauses == 1
    assert b"".join([c async for c in resp.iter_chunks()]) == b"".join(chunks)
    fwd.finish(ctx)


@bounded
async def test_https_endpoints_ask_the_transport_for_tls() -> None:
    up = Upstreams({"*": OK})
    http = UpstreamClient(transport=up.mock)
    for url in ("https://w1:8443/v1/chat/completions", "http://w1:8000/v1/chat/completions"):
        resp = await http.request("POST", url, [], b"{}", timeout=1)
        await resp.read()
    assert [(r.port, r.tls, r.header("host")) for r in up.mock.requests] == [
        (8443, True, "w1:8443"),
        (8000, False, "w1:8000"),
    ]
    await http.aclose()
