"""Tenants, limits and session pinning as pure logic: the config (key digests from inline, env and file),
the limiter's buckets and budgets on a fake clock, the session store's bounds, the intake's authentication,
the tenant's allowed models, the session stage's switching rule and the forwarder's key stripping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from semrouter.config.loader import ConfigError, parse_config
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, LocalResponse, RequestContext
from semrouter.errors import RouterError
from semrouter.pool.endpoint import Endpoint
from semrouter.stages.session import SessionStage
from semrouter.tenancy import TenancyState, TenantAccess, admit, authenticate, narrow, settle
from semrouter.tenancy.config import Limits, key_digest
from semrouter.tenancy.limits import Charge, Exceeded, Limiter, Scope, period_bounds
from semrouter.tenancy.sessions import SessionStore
from semrouter.upstream.forward import Forwarder

KEY_A, KEY_B = "sk-a-1", "sk-b-1"


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def take(lim: Limiter, scopes: list[Scope], tokens: int, cost: float) -> Charge:
    charge = lim.admit(scopes, tokens, cost)
    assert isinstance(charge, Charge), charge
    return charge


def base(**extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "models": [
            {"name": "small", "endpoints": [{"url": "http://127.0.0.1:9"}]},
            {"name": "large", "endpoints": [{"url": "http://127.0.0.1:9"}]},
            {"name": "coder", "endpoints": [{"url": "http://127.0.0.1:9"}]},
        ],
        "decisions": [
            {"name": "general", "models": [{"model": "small"}, {"model": "large"}]},
            {"name": "code", "models": [{"model": "coder"}]},
        ],
        "routing": {"default_decision": "general"},
    }
    cfg.update(extra)
    return cfg


def tenants(**a_extra: Any) -> dict[str, Any]:
    return {
        "tenants": [
            {"name": "a", "keys": [{"sha256": key_digest(KEY_A)}], **a_extra},
            {"name": "b", "keys": [{"name": "b-key", "sha256": key_digest(KEY_B)}]},
        ]
    }


def load(cfg: dict[str, Any]) -> RouterConfig:
    return parse_config(yaml.safe_dump(cfg))


def ctx_for(cfg: RouterConfig, headers: dict[str, str] | None = None, **body: Any) -> RequestContext:
    payload = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], **body}
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps(payload), headers or {}, cfg)
    ctx.body = payload
    ctx.requested_model = payload["model"]
    ctx.routed = payload["model"] == "auto"
    return ctx


# -- config ---------------------------------------------------------------------------------------


def test_key_digests_come_inline_from_env_and_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "keys"
    f.write_text(f"# CI keys\n{key_digest('sk-file-1')}\n\n{key_digest('sk-file-2')}  # the second\n")
    monkeypatch.setenv("KEYS_ENV", f"{key_digest('sk-env-1')},{key_digest('sk-env-2').upper()}")
    keys = [{"sha256": key_digest("sk-inline")}, {"sha256_env": "KEYS_ENV"}, {"sha256_file": str(f)}]
    cfg = load(base(tenancy={"tenants": [{"name": "t", "keys": keys}]}))
    assert cfg.tenancy is not None
    for key in ("sk-inline", "sk-env-1", "sk-env-2", "sk-file-1", "sk-file-2"):
        entry = cfg.tenancy.lookup(key.encode())
        assert entry is not None and entry.tenant.name == "t", key
    assert cfg.tenancy.lookup(b"sk-other") is None


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([{"sha256": "abc"}], "not a sha256 hex digest"),
        ([{"sha256": key_digest("x"), "sha256_env": "E"}], "exactly one of"),
        ([{"sha256_env": "SEMROUTER_TEST_UNSET_ENV"}], "is not set"),
        ([{"sha256_file": "/nonexistent/keys"}], "cannot read sha256_file"),
        ([{"sha256": key_digest("x")}, {"sha256": key_digest("x")}], "listed twice"),
    ],
)
def test_bad_keys_are_config_errors(keys: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(base(tenancy={"tenants": [{"name": "t", "keys": keys}]}))


def test_tenants_allowed_models_and_decisions_must_exist() -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'") as err:
        load(base(tenancy=tenants(models=["nope"], decisions=["gone"])))
    assert "unknown decision 'gone'" in str(err.value)


def test_trusted_cidrs_match_by_address_family() -> None:
    cfg = load(base(tenancy={**tenants(), "trusted_cidrs": ["10.0.0.0/8", "fd00::/8"]}))
    assert cfg.tenancy is not None
    t = cfg.tenancy.trusted
    assert t("10.1.2.3") and t("fd00::1")
    assert not t("11.0.0.1") and not t("::1") and not t(None) and not t("not-an-ip")


# -- limiter ------------------------------------------------------------------------------------------


def test_requests_per_minute_is_a_refilling_bucket_with_retry_after() -> None:
    clock = Clock()
    lim = Limiter(clock)
    scopes = [("tenant:a", "tenant a", Limits(requests_per_minute=2))]
    take(lim, scopes, 0, 0.0)
    take(lim, scopes, 0, 0.0)
    refused = lim.admit(scopes, 0, 0.0)
    assert isinstance(refused, Exceeded)
    e = refused.error()
    assert e.status == 429 and e.code == "rate_limit_exceeded" and e.type == "requests"
    assert e.headers["retry-after"] == "30"  # 2 a minute: one comes back every 30 s
    clock.t += 29.0
    assert lim.check(scopes, 0, 0.0) is not None
    clock.t += 1.0
    take(lim, scopes, 0, 0.0)
    # another tenant's bucket is its own
    take(lim, [("tenant:b", "tenant b", Limits(requests_per_minute=2))], 0, 0.0)


def test_tokens_per_minute_reserve_an_estimate_and_settle_to_usage() -> None:
    clock = Clock()
    lim = Limiter(clock)
    scopes = [("key:k", "key k", Limits(tokens_per_minute=1000))]
    first = take(lim, scopes, 800, 0.0)
    refused = lim.check(scopes, 800, 0.0)
    assert refused is not None and refused.limit == "tokens_per_minute"
    assert refused.retry_after_s == pytest.approx(600 / (1000 / 60))  # 600 short at 16.7 a second
    lim.settle(first, 100, None)  # it used 100: 700 go back
    take(lim, scopes, 800, 0.0)
    second = lim.check(scopes, 5000, 0.0)  # larger than a minute: needs a full bucket
    assert second is not None
    clock.t += 60
    big = take(lim, scopes, 5000, 0.0)  # full: admitted, and the bucket goes into debt
    assert lim.check(scopes, 1, 0.0) is not None
    lim.settle(big, None, None)  # usage unknown: the estimate stands
    lim.settle(big, 0, None)  # settling twice changes nothing
    assert lim.check(scopes, 1, 0.0) is not None


def test_budget_counts_spend_per_calendar_period() -> None:
    clock = Clock(datetime(2026, 12, 31, 23, 0, tzinfo=UTC).timestamp())
    lim = Limiter(clock)
    scopes = [("tenant:a", "tenant a", Limits.model_validate({"budget": {"usd": 1.0, "period": "month"}}))]
    charge = take(lim, scopes, 10, 0.4)
    lim.settle(charge, 10, 0.7)  # the estimate said 0.4, usage says 0.7
    assert lim.spent("tenant:a") == pytest.approx(0.7)
    lim.settle(take(lim, scopes, 10, 0.4), 10, 0.4)
    err = lim.check(scopes, 10, 0.1)
    assert err is not None and err.limit == "budget"
    assert err.retry_after_s == pytest.approx(3600)  # January starts in an hour
    e = err.error()
    assert e.status == 429 and e.code == "insufficient_quota" and e.headers["retry-after"] == "3600"
    clock.t += 3600
    assert lim.check(scopes, 10, 0.1) is None  # a new month, a new budget


def test_in_flight_reservations_count_against_the_budget() -> None:
    lim = Limiter(Clock())
    scopes = [("tenant:a", "tenant a", Limits.model_validate({"budget": {"usd": 1.0}}))]
    take(lim, scopes, 10, 0.6)
    take(lim, scopes, 10, 0.6)  # 0.6 reserved < 1.0: admitted
    assert lim.check(scopes, 10, 0.1) is not None  # 1.2 reserved: not before they settle


def test_period_bounds() -> None:
    t = datetime(2026, 3, 15, 10, 30, tzinfo=UTC).timestamp()
    assert period_bounds("hour", t)[1] == datetime(2026, 3, 15, 11, tzinfo=UTC).timestamp()
    assert period_bounds("day", t)[1] == datetime(2026, 3, 16, tzinfo=UTC).timestamp()
    assert period_bounds("month", t)[1] == datetime(2026, 4, 1, tzinfo=UTC).timestamp()


# -- sessions store -------------------------------------------------------------------------------------


def test_session_store_is_bounded_by_ttl_and_lru() -> None:
    clock = Clock()
    store = SessionStore(clock)
    store.put("a", "m", "d", ttl_s=10, max_sessions=2)
    store.put("b", "m", "d", ttl_s=10, max_sessions=2)
    assert store.get("a") is not None  # a is now the most recent
    store.put("c", "m", "d", ttl_s=10, max_sessions=2)
    assert store.get("b") is None and store.get("a") is not None and len(store) == 2 and store.evicted == 1
    clock.t += 10
    assert store.get("a") is None and store.get("c") is None


# -- intake: who is calling ------------------------------------------------------------------------------


def test_authenticate_maps_keys_and_refuses_unknown_or_missing_ones() -> None:
    cfg = load(base(tenancy=tenants()))
    state = TenancyState()
    ctx = ctx_for(cfg, {"authorization": f"Bearer {KEY_B}", "x-tenant-id": "a"})
    authenticate(ctx, state, "127.0.0.1")
    assert ctx.tenant == "b"  # the key, not the forged header
    ctx = ctx_for(cfg, {"x-api-key": KEY_A})  # the Anthropic SDKs' header
    authenticate(ctx, state, None)
    assert ctx.tenant == "a"
    for headers in ({"authorization": "Bearer sk-wrong"}, {}, {"x-tenant-id": "a"}):
        with pytest.raises(RouterError) as err:
            authenticate(ctx_for(cfg, headers), state, "127.0.0.1")
        assert err.value.status == 401 and err.value.code == "invalid_api_key"
        assert "sk-wrong" not in err.value.message


def test_only_a_trusted_client_names_its_tenant_by_header() -> None:
    cfg = load(base(tenancy={**tenants(models=["small"]), "trusted_cidrs": ["10.0.0.0/8"]}))
    ctx = ctx_for(cfg, {"x-tenant-id": "a"})
    authenticate(ctx, TenancyState(), "10.0.0.5")
    assert ctx.tenant == "a" and ctx.tenancy is not None and ctx.tenancy.tenant is not None
    ctx = ctx_for(cfg, {"x-tenant-id": "someone-else"})  # an unconfigured tenant: a partition, no rules
    authenticate(ctx, TenancyState(), "10.0.0.5")
    assert ctx.tenant == "someone-else" and ctx.tenancy is not None and ctx.tenancy.tenant is None
    with pytest.raises(RouterError):
        authenticate(ctx_for(cfg, {"x-tenant-id": "a"}), TenancyState(), "192.168.0.1")


def test_without_tenancy_the_header_names_the_tenant_as_before() -> None:
    cfg = load(base())
    ctx = ctx_for(cfg, {"x-tenant-id": "acme"})
    authenticate(ctx, TenancyState(), None)
    assert ctx.tenant == "acme" and ctx.tenancy is not None and ctx.tenancy.tenant is None


def test_a_tenant_over_its_limit_is_refused_at_the_intake() -> None:
    cfg = load(base(tenancy=tenants(limits={"requests_per_minute": 1})))
    state = TenancyState()
    ctx = ctx_for(cfg, {"authorization": f"Bearer {KEY_A}"})
    authenticate(ctx, state, None)
    ctx.model = "small"
    asyncio.run(admit(ctx))
    with pytest.raises(RouterError) as err:
        authenticate(ctx_for(cfg, {"authorization": f"Bearer {KEY_A}"}), state, None)
    assert err.value.status == 429 and "retry-after" in err.value.headers
    authenticate(ctx_for(cfg, {"authorization": f"Bearer {KEY_B}"}), state, None)  # b's limits are b's


def test_settle_refunds_what_the_worker_never_produced() -> None:
    cfg = load(base(tenancy=tenants(limits={"tokens_per_minute": 1000})))
    state = TenancyState()
    ctx = ctx_for(cfg, {"authorization": f"Bearer {KEY_A}"}, max_tokens=900)
    authenticate(ctx, state, None)
    ctx.model = "small"
    asyncio.run(admit(ctx))
    assert ctx.tenancy is not None and ctx.tenancy.charge is not None and ctx.tenancy.charge.tokens > 900
    scopes = ctx.tenancy.scopes()
    assert state.limiter.check(scopes, 500, 0.0) is not None
    ctx.local_stage = "cache"  # answered from the cache: no tokens spent
    settle(ctx, None)
    assert state.limiter.check(scopes, 500, 0.0) is None


# -- allowed models and decisions -------------------------------------------------------------------


def routed(cfg: RouterConfig, decision: str, model: str) -> RequestContext:
    ctx = ctx_for(cfg, {"authorization": f"Bearer {KEY_A}"})
    authenticate(ctx, TenancyState(), None)
    ctx.decision = cfg.decision(decision)
    ctx.model = model
    return ctx


def test_routing_picks_an_allowed_candidate_and_refuses_when_there_is_none() -> None:
    cfg = load(base(tenancy=tenants(models=["large"])))
    ctx = routed(cfg, "general", "small")
    narrow(ctx)
    assert ctx.model == "large"  # small is not acme's: the decision's other candidate
    with pytest.raises(RouterError) as err:
        narrow(routed(cfg, "code", "coder"))
    assert err.value.status == 403 and err.value.code == "model_not_allowed"
    explicit = routed(cfg, "general", "small")
    explicit.routed = False
    with pytest.raises(RouterError):
        narrow(explicit)


def test_a_decision_outside_the_tenants_is_refused() -> None:
    cfg = load(base(tenancy=tenants(decisions=["general"])))
    narrow(routed(cfg, "general", "small"))
    with pytest.raises(RouterError) as err:
        narrow(routed(cfg, "code", "coder"))
    assert err.value.status == 403 and err.value.code == "decision_not_allowed"


# -- the session stage's rule ----------------------------------------------------------------------------


def turn(
    stage: SessionStage, cfg: RouterConfig, state: TenancyState | None, decision: str, model: str, **headers: str
) -> RequestContext:
    ctx = ctx_for(cfg, headers)
    if state is not None:
        ctx.tenancy = TenantAccess(state)
        ctx.tenant = headers.get("x-tenant-id")
    ctx.decision = cfg.decision(decision)
    ctx.model = model
    out: LocalResponse | None = asyncio.run(stage.on_request(ctx))
    assert out is None
    return ctx


def test_the_pin_holds_while_it_is_a_candidate_and_switches_when_it_is_not() -> None:
    cfg = load(base(sessions={"enabled": True}))
    stage, state = SessionStage(cfg), TenancyState()
    sid = {"x-session-id": "s1"}
    first = turn(stage, cfg, state, "general", "large", **sid)
    assert first.model == "large" and first.obs["session"] == "new"
    held = turn(stage, cfg, state, "general", "small", **sid)  # selection moved: the pin holds
    assert held.model == "large" and held.obs["session"] == "held"
    assert held.response_headers["x-vsr-session-pinned"] == "true"
    switched = turn(stage, cfg, state, "code", "coder", **sid)  # no candidate in common: switch
    assert switched.model == "coder" and switched.response_headers["x-vsr-session-switched-from"] == "large"
    back = turn(stage, cfg, state, "general", "small", **sid)
    assert back.model == "small" and back.obs["session"] == "switched"


def test_sessions_are_scoped_by_tenant_and_skipped_for_a_dry_run() -> None:
    cfg = load(base(sessions={"enabled": True}))
    stage, state = SessionStage(cfg), TenancyState()
    turn(stage, cfg, state, "general", "large", **{"x-session-id": "s", "x-tenant-id": "t1"})
    other = turn(stage, cfg, state, "general", "small", **{"x-session-id": "s", "x-tenant-id": "t2"})
    assert other.model == "small" and other.obs["session"] == "new"
    dry = turn(stage, cfg, None, "general", "small", **{"x-session-id": "s", "x-tenant-id": "t1"})
    assert dry.model == "small" and "session" not in dry.obs


def test_the_history_key_is_the_conversations_opening() -> None:
    cfg = load(base(sessions={"enabled": True, "key_from": ["history"]}))
    stage, state = SessionStage(cfg), TenancyState()
    opening = [{"role": "system", "content": "sys"}, {"role": "user", "content": "q1"}]

    def at(messages: list[dict[str, Any]], model: str) -> RequestContext:
        ctx = ctx_for(cfg, messages=messages)
        ctx.tenancy = TenantAccess(state)
        ctx.decision, ctx.model = cfg.decision("general"), model
        asyncio.run(stage.on_request(ctx))
        return ctx

    at(opening, "large")
    later = at([*opening, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}], "small")
    assert later.model == "large"
    other = at([{"role": "system", "content": "sys"}, {"role": "user", "content": "another"}], "small")
    assert other.model == "small"


# -- the worker never sees a virtual key ----------------------------------------------------------------


def test_the_forwarder_strips_virtual_keys_only_under_tenancy() -> None:
    raw = [(b"authorization", b"Bearer sk-a-1"), (b"x-api-key", b"sk-a-1"), (b"accept", b"*/*")]
    with_tenancy = load(base(tenancy=tenants()))
    ep = Endpoint("small", with_tenancy.models[0].endpoints[0])
    sent = dict(Forwarder._headers(None, ctx_for(with_tenancy), ep, raw))  # type: ignore[arg-type]
    assert b"authorization" not in sent and b"x-api-key" not in sent and sent[b"accept"] == b"*/*"
    open_cfg = load(base())
    sent = dict(Forwarder._headers(None, ctx_for(open_cfg), ep, raw))  # type: ignore[arg-type]
    assert sent[b"authorization"] == b"Bearer sk-a-1"  # as before: a worker that checks the caller's key


def test_the_keys_of_one_entry_each_have_the_entrys_limits_on_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_KEYS", f"{key_digest('sk-ci-1')} {key_digest('sk-ci-2')}")
    keys = [{"name": "ci", "sha256_env": "CI_KEYS", "limits": {"requests_per_minute": 1}}]
    cfg = load(base(tenancy={"tenants": [{"name": "t", "keys": keys}]}))
    state = TenancyState()

    def call(key: str) -> None:
        ctx = ctx_for(cfg, {"authorization": f"Bearer {key}"})
        authenticate(ctx, state, None)
        ctx.model = "small"
        asyncio.run(admit(ctx))

    call("sk-ci-1")
    call("sk-ci-2")  # the other key of the entry: its own minute
    with pytest.raises(RouterError) as err:
        call("sk-ci-1")
    assert "key ci" in err.value.message and key_digest("sk-ci-1") not in err.value.message
