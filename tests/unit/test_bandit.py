"""Online selection (issue 19, points 3-4) in pure logic: the bandit moves traffic away from a failing
model within a bounded number of requests and back when it heals, never explores more than its bound,
survives JSON; feedback bodies parse strictly; implicit outcomes are classified and weighted as
documented; re-asks fail the earlier answer; pool-aware choice honours the SLO, the margin and probes a
model again once its latency estimate is stale."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from semrouter.config.loader import parse_config
from semrouter.config.schema import EndpointConfig, PoolAwareConfig, RouterConfig
from semrouter.context import ApiKind, RequestContext, ResponseOutcome
from semrouter.decide.bandit import Bandit
from semrouter.decide.online import Learning, OutcomeSniffer, SelectionNote, reward_of
from semrouter.decide.pool import LatencyBook, pool_choice
from semrouter.pool.endpoint import Endpoint

PRICES = {"a": 1.0, "b": 1.0}  # equal prices: only quality decides
PRIORS = {"a": 0.9, "b": 0.6}


def _run(bandit: Bandit, n: int, good_rate: dict[str, float], rng: random.Random) -> list[str]:
    picks = []
    for _ in range(n):
        model, _, _ = bandit.choose(PRICES, PRIORS)
        bandit.update(model, 1.0 if rng.random() < good_rate[model] else 0.0)
        picks.append(model)
    return picks


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_traffic_leaves_a_failing_model_and_returns_when_it_heals(seed: int) -> None:
    rng = random.Random(seed)
    bandit = Bandit(seed=seed, max_explore=0.1, decay=0.97, prior_strength=2)
    assert _run(bandit, 100, {"a": 0.9, "b": 0.6}, rng)[-50:].count("a") >= 40  # the better prior wins
    broken = {"a": 0.0, "b": 0.6}
    _run(bandit, 25, broken, rng)  # within 25 requests of "a" failing ...
    assert _run(bandit, 100, broken, rng).count("a") <= 15  # ... it gets at most the exploration share
    healed = {"a": 0.9, "b": 0.6}
    _run(bandit, 40, healed, rng)  # within 40 requests of healing ...
    assert _run(bandit, 100, healed, rng).count("a") >= 70  # ... it has its traffic back


def test_implicit_weights_move_a_failing_model_out_and_back() -> None:
    """With the documented weights (a complete answer 0.3, an error 1.0) and scores as priors."""
    bandit = Bandit(seed=7)
    picks = []
    for phase, n in (("ok", 60), ("fail", 60), ("heal", 80)):
        for _ in range(n):
            model, _, _ = bandit.choose(PRICES, PRIORS)
            failed = phase == "fail" and model == "a"
            bandit.update(model, 0.0 if failed else None, 1.0 if failed else 0.3)  # None: as expected
            picks.append(model)
    assert picks[40:60].count("a") >= 16
    assert picks[70:120].count("a") <= 8  # from 10 requests after "a" broke: the exploration share
    assert picks[160:200].count("a") >= 32  # 40 requests after it healed: most of it back


def test_exploration_never_exceeds_its_bound() -> None:
    rng = random.Random(2)
    bandit = Bandit(seed=5, max_explore=0.05, decay=1.0, prior_strength=2.0)
    _run(bandit, 400, {"a": 0.9, "b": 0.3}, rng)
    explored = 0
    for _ in range(400):
        model, _, e = bandit.choose(PRICES, PRIORS)
        explored += e
        bandit.update(model, 1.0 if rng.random() < {"a": 0.9, "b": 0.3}[model] else 0.0)
    assert explored / 400 <= 0.08  # the bound (0.05) plus the averaging's slack


def test_price_and_offsets_weigh_against_quality() -> None:
    bandit = Bandit(seed=0, max_explore=0.0)
    for _ in range(50):
        bandit.update("cheap", 1.0)
        bandit.update("dear", 1.0)
    priors = {"cheap": 0.5, "dear": 0.5}
    assert bandit.choose({"cheap": 0.1, "dear": 1.0}, priors, cost_weight=0.5)[0] == "cheap"
    # the learned selector's per-prompt offset can outweigh the price
    assert bandit.choose({"cheap": 0.1, "dear": 1.0}, priors, 0.5, {"cheap": -0.4, "dear": 0.4})[0] == "dear"


def test_state_round_trips_through_json_and_bad_state_is_refused() -> None:
    bandit = Bandit(seed=0)
    bandit.choose(PRICES, PRIORS)
    bandit.update("a", 1.0)
    bandit.update("b", 0.0)
    state = json.loads(json.dumps(bandit.to_dict()))
    back = Bandit.from_dict(state, seed=0)
    assert back.to_dict() == bandit.to_dict()
    assert back.arms["a"].mean > back.arms["b"].mean
    state["arms"]["a"] = [-1.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="positive"):
        Bandit.from_dict(state)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_explore"):
        Bandit(max_explore=1.5)
    with pytest.raises(ValueError, match="decay"):
        Bandit(decay=0)
    with pytest.raises(ValueError, match="no candidates"):
        Bandit().choose({}, {})
    with pytest.raises(ValueError, match="reward"):
        Bandit().update("a", 2.0)


# -- feedback bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reward"),
    [
        ({"label": "good"}, 1.0),
        ({"label": "bad"}, 0.0),
        ({"rating": -1}, 0.0),
        ({"rating": 0}, 0.5),
        ({"rating": 1}, 1.0),
        ({"rating": 5}, 1.0),
        ({"rating": 3}, 0.5),
        ({"rating": 1, "scale": "1-5"}, 0.0),
    ],
)
def test_feedback_rewards(body: dict[str, Any], reward: float) -> None:
    assert reward_of(body)[0] == reward


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "rating"),
        ({"rating": 1, "label": "good"}, "rating"),
        ({"label": "meh"}, "label"),
        ({"rating": "5"}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": 7}, "rating"),
        ({"rating": -2}, "rating"),
        ({"rating": 0.5, "scale": "1-10"}, "scale"),
    ],
)
def test_bad_feedback_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        reward_of(body)


# -- implicit outcomes -----------------------------------------------------------------------------


def test_sniffer_sees_truncation_and_content_across_chunks() -> None:
    s = OutcomeSniffer()
    for part in (b'data: {"choices":[{"delta":{"content":""},"finish_', b'reason":null}]}\n\n'):
        assert s.feed(part) == part  # a pass-through
    assert not s.nonempty and not s.truncated
    s.feed(b'data: {"choices":[{"delta":{"cont')
    s.feed(b'ent":"Hi"},"finish_reason":"len')
    s.feed(b'gth"}]}\n\n')
    assert s.nonempty and s.truncated
    tools = OutcomeSniffer()
    tools.feed(b'{"choices":[{"message":{"content":null,"tool_calls":[{"id":"x"}]},"finish_reason":"tool_calls"}]}')
    assert tools.nonempty and not tools.truncated


CONFIG = """
routing: {virtual_models: [auto], default_decision: pick, feedback: {reask_window_s: 60, max_requests: 16}}
models:
  - {name: a, endpoints: [{url: "http://127.0.0.1:9"}]}
  - {name: b, endpoints: [{url: "http://127.0.0.1:9"}]}
decisions:
  - name: pick
    models: [{model: a, score: 0.9}, {model: b, score: 0.6}]
    selection: {algorithm: bandit, cost_weight: 0}
  - {name: fixed, models: [{model: a}]}
"""


def _config(extra: str = "") -> RouterConfig:
    return parse_config(CONFIG.replace("feedback: {", "feedback: {" + extra), "test.yaml")


def _ctx(config: RouterConfig, model: str, text: str = "hi", session: str | None = None) -> RequestContext:
    headers = {"x-session-id": session} if session else {}
    ctx = RequestContext(ApiKind.CHAT, b"{}", headers, config)
    ctx.body = {"messages": [{"role": "user", "content": text}]}
    ctx.decision = config.decision("pick")
    ctx.model = model
    sniffer = OutcomeSniffer()
    ctx.stage_state["selection"] = SelectionNote(model, True, sniffer, 5.0)
    return ctx


def _answer(ctx: RequestContext, body: bytes) -> ResponseOutcome:
    ctx.stage_state["selection"].sniffer.feed(body)
    return ResponseOutcome(200, True)


def test_implicit_outcomes_are_classified_and_weighted() -> None:
    config = _config()
    learning = Learning(config)
    arms = learning.bandits["pick"].arms
    before = arms["a"].failures
    ok = _ctx(config, "a")
    out = learning.record(ok, "upstream", None, _answer(ok, b'{"content":"yes","finish_reason":"stop"}'), 0.1)
    assert out == {"outcome": "ok"}
    err = _ctx(config, "a")
    assert learning.record(err, "error", "status_500", ResponseOutcome(500, True), 0.1) == {"outcome": "error"}
    # the complete answer: 0.3 outcomes at the prior (0.9); the error: one whole failure; each after forgetting
    after_ok = 0.97 * before + 0.03 * 0.1 * 2 + 0.3 * (1 - 0.9)
    assert arms["a"].failures == pytest.approx(0.97 * after_ok + 0.03 * 0.1 * 2 + 1.0, rel=1e-6)
    cut = _ctx(config, "a")
    out = learning.record(cut, "upstream", None, _answer(cut, b'{"content":"ye","finish_reason":"length"}'), 0.1)
    assert out == {"outcome": "truncated"}
    empty = _ctx(config, "a")
    assert learning.record(empty, "upstream", None, _answer(empty, b'{"content":""}'), 0.1) == {"outcome": "truncated"}
    client = _ctx(config, "a")
    means = learning.bandits["pick"].means()
    assert learning.record(client, "upstream", None, ResponseOutcome(400, True), 0.1) == {"outcome": "client_error"}
    assert learning.bandits["pick"].means() == means  # a client's bad request teaches nothing
    hit = _ctx(config, "a")
    assert learning.record(hit, "cache", None, None, None) is None
    unseen = _ctx(config, "a")  # the answer never passed the router (Envoy relayed it): no verdict on it
    assert learning.record(unseen, "upstream", None, ResponseOutcome(200, True), 0.1) == {"outcome": "ok"}


def test_a_fallback_fails_the_model_it_left() -> None:
    config = _config()
    learning = Learning(config)
    ctx = _ctx(config, "b")
    ctx.response_headers["x-vsr-fallback-from"] = "a"
    mean_a = learning.bandits["pick"].arms["a"].mean
    learning.record(ctx, "upstream", None, _answer(ctx, b'{"content":"x"}'), 0.1)
    assert learning.bandits["pick"].arms["a"].mean < mean_a - 0.05


def test_a_reask_in_the_session_fails_the_earlier_answer() -> None:
    config = _config()
    learning = Learning(config)
    first = _ctx(config, "a", "What is  the capital of Peru?", session="s1")
    learning.record(first, "upstream", None, _answer(first, b'{"content":"Lima"}'), 0.1)
    mean_a = learning.bandits["pick"].arms["a"].mean
    other = _ctx(config, "b", "what is the capital of peru?", session="s2")  # another session: no re-ask
    assert "reask_of" not in (learning.record(other, "upstream", None, _answer(other, b'{"content":"x"}'), 0.1) or {})
    again = _ctx(config, "b", "what is the capital of  Peru?", session="s1")
    out = learning.record(again, "upstream", None, _answer(again, b'{"content":"Lima"}'), 0.1)
    assert out is not None and out["reask_of"] == first.request_id
    assert learning.bandits["pick"].arms["a"].mean < mean_a - 0.05


def test_feedback_finds_recent_requests_only_once_and_forgets_old_ones() -> None:
    config = _config()
    learning = Learning(config)
    ctx = _ctx(config, "a")
    learning.record(ctx, "upstream", None, _answer(ctx, b'{"content":"x"}'), 0.1)
    mean_a = learning.bandits["pick"].arms["a"].mean
    served, learned = learning.feedback(ctx.request_id, 0.0)
    assert (served.decision, served.model, learned) == ("pick", "a", True)
    assert learning.bandits["pick"].arms["a"].mean < mean_a
    with pytest.raises(ValueError, match="already"):
        learning.feedback(ctx.request_id, 1.0)
    with pytest.raises(KeyError):
        learning.feedback("nope", 1.0)
    for _ in range(20):  # max_requests is 16: the first is forgotten
        c = _ctx(config, "b")
        learning.record(c, "upstream", None, _answer(c, b'{"content":"x"}'), 0.1)
    assert len(learning.served) == 16
    with pytest.raises(KeyError):
        learning.feedback(ctx.request_id, 1.0)


def test_state_survives_a_restart_and_a_reload_keeps_only_live_decisions(tmp_path: Path) -> None:
    path = tmp_path / "bandit.json"
    config = _config(f"state_path: {path}, ")
    learning = Learning(config)
    for _ in range(10):
        learning.bandits["pick"].update("a", 0.0)
    learning.save()
    again = Learning(config)
    assert again.bandits["pick"].arms["a"].mean == pytest.approx(learning.bandits["pick"].arms["a"].mean)
    path.write_text("{not json")
    assert Learning(config).bandits["pick"].arms["a"].mean == pytest.approx(0.9)  # unreadable: from the priors
    gone = parse_config(CONFIG.replace("algorithm: bandit", "algorithm: static"), "test.yaml")
    again.apply(gone)
    assert again.bandits == {}


# -- pool-aware choice -----------------------------------------------------------------------------


def _endpoint(model: str, port: int) -> Endpoint:
    return Endpoint(model, EndpointConfig(url=f"http://127.0.0.1:{port}"))  # type: ignore[arg-type]


def test_the_slo_rules_out_a_slow_model_until_its_estimate_is_stale() -> None:
    strong, weak = _endpoint("strong", 1), _endpoint("weak", 2)
    eps = {"strong": [strong], "weak": [weak]}
    utility = {"strong": 0.9, "weak": 0.5}
    cfg = PoolAwareConfig(latency_slo_ms=200, stale_s=5)
    book = LatencyBook()
    book.observe("strong", strong.url, 0.4, 5, now=100.0)
    book.observe("weak", weak.url, 0.05, 5, now=100.0)
    assert pool_choice("strong", utility, eps, book, cfg, now=101.0)[:2] == ("weak", "slo")
    assert pool_choice("strong", utility, eps, book, cfg, now=106.0)[:2] == ("strong", None)  # stale: probe
    strong.outstanding = 1  # the probe is in flight: the old estimate holds
    assert pool_choice("strong", utility, eps, book, cfg, now=106.0)[0] == "weak"
    strong.outstanding = 0
    book.observe("strong", strong.url, 0.01, 5, now=106.5)  # the probe was fast: the old average is gone
    assert pool_choice("strong", utility, eps, book, cfg, now=107.0)[:2] == ("strong", None)
    book.observe("weak", weak.url, 0.5, 5, now=107.0)
    book.observe("strong", strong.url, 0.5, 5, now=107.0)
    book.observe("strong", strong.url, 0.5, 5, now=107.0)
    assert pool_choice("strong", utility, eps, book, cfg, now=107.5)[:2] == ("strong", None)  # none within: quality


def test_near_ties_go_to_the_model_with_capacity_and_ejected_models_are_avoided() -> None:
    a, b = _endpoint("a", 1), _endpoint("b", 2)
    eps = {"a": [a], "b": [b]}
    book = LatencyBook()
    book.observe("a", a.url, 0.1, 60, now=0.0)
    book.observe("b", b.url, 0.1, 60, now=0.0)
    cfg = PoolAwareConfig(margin=0.05, stale_s=60)
    a.outstanding = 8
    assert pool_choice("a", {"a": 0.80, "b": 0.78}, eps, book, cfg, now=1.0)[:2] == ("b", "load")
    assert pool_choice("a", {"a": 0.80, "b": 0.60}, eps, book, cfg, now=1.0)[:2] == ("a", None)  # not near
    a.outstanding = 0
    assert pool_choice("a", {"a": 0.80, "b": 0.78}, eps, book, cfg, now=1.0)[:2] == ("a", None)
    fresh = LatencyBook()  # nothing known of either: equal predictions never switch
    assert pool_choice("a", {"a": 0.78, "b": 0.80}, eps, fresh, cfg, now=1.0)[:2] == ("a", None)
    a.ejected_until = 1e12
    assert pool_choice("a", {"a": 0.80, "b": 0.10}, eps, book, cfg, now=1.0)[:2] == ("b", "load")
    b.healthy = False  # nothing left: the selector's choice stands, and the forwarder answers
    assert pool_choice("a", {"a": 0.80, "b": 0.10}, eps, book, cfg, now=1.0)[:2] == ("a", None)


async def test_the_selection_stage_applies_the_bandit_and_the_pool_and_says_why() -> None:
    from semrouter.pool.pool import EndpointRegistry
    from semrouter.stages.selection import SelectionStage
    from semrouter.upstream.client import UpstreamClient

    config = parse_config(
        CONFIG.replace(
            "selection: {algorithm: bandit, cost_weight: 0}",
            "selection: {algorithm: bandit, "
            "cost_weight: 0, bandit: {max_explore: 0}, pool_aware: {latency_slo_ms: 100}}",
        ),
        "test.yaml",
    )
    stage = SelectionStage(config)
    learning = Learning(config)
    fleet = EndpointRegistry(UpstreamClient())
    fleet.apply(config)
    learning.bind([stage], fleet)

    async def pick() -> RequestContext:
        ctx = RequestContext(ApiKind.CHAT, b"{}", {}, config)
        ctx.decision = config.decision("pick")
        await stage.on_request(ctx)
        return ctx

    ctx = await pick()
    assert ctx.model == "a" and "x-vsr-selection-reason" not in ctx.response_headers
    note = ctx.stage_state["selection"]
    assert note.learns and note.sniffer in ctx.response_filters
    learning.latency.observe("a", "http://127.0.0.1:9", 0.5, 5.0)  # "a" answers in 500 ms: past the SLO
    ctx = await pick()
    assert ctx.model == "b" and ctx.response_headers["x-vsr-selection-reason"] == "slo"
    assert ctx.obs["selection_reason"] == "slo"


# -- context windows (issue 19, point 4: a context-length need rules models out) -------------------------

WINDOWS = """
routing: {default_decision: pick}
models:
  - {name: small, context_window: 1000, endpoints: [{url: "http://127.0.0.1:1"}]}
  - {name: big, context_window: 8000, endpoints: [{url: "http://127.0.0.1:2"}]}
  - {name: open, endpoints: [{url: "http://127.0.0.1:3"}]}
decisions:
  - name: pick
    models: [{model: small, score: 0.9}, {model: big, score: 0.6}]
  - name: with_open
    models: [{model: small, score: 0.9}, {model: open, score: 0.5}, {model: big, score: 0.6}]
"""


def _select(text: str, decision: str = "pick", **body: Any) -> tuple[str, RequestContext]:
    from semrouter.stages.selection import SelectionStage

    config = parse_config(WINDOWS, "windows.yaml")
    payload = {"model": "auto", "messages": [{"role": "user", "content": text}], **body}
    ctx = RequestContext(ApiKind.CHAT, json.dumps(payload).encode(), {}, config)
    ctx.body = payload
    ctx.decision = config.decision(decision)
    asyncio.run(SelectionStage(config).on_request(ctx))
    assert ctx.model is not None
    return ctx.model, ctx


def test_a_request_longer_than_a_window_rules_that_model_out() -> None:
    model, ctx = _select("short question")
    assert model == "small" and "x-vsr-selection-reason" not in ctx.response_headers
    assert "context_excluded" not in ctx.obs
    # ~3,000 characters ~ 750 prompt tokens: fits 1,000 alone, not with a 400-token answer on top
    long = "word " * 600
    assert _select(long)[0] == "small"
    model, ctx = _select(long, max_tokens=400)
    assert model == "big" and ctx.response_headers["x-vsr-selection-reason"] == "context"
    assert ctx.obs["context_excluded"] == "small" and 1100 <= ctx.obs["context_tokens"] <= 1300
    assert _select(long, max_completion_tokens=400)[0] == "big"  # the newer name of the cap counts the same
    assert _select("short", max_tokens=998)[0] == "big"  # a small prompt (3 tokens) with a big answer cap
    assert _select("short", max_tokens=900)[0] == "small"
    # CJK counts about a token per character: 900 characters + a 200-token answer no longer fit 1,000
    assert _select("漢" * 900, max_tokens=200)[0] == "big"
    assert _select("a" * 900, max_tokens=200)[0] == "small"  # 900 ASCII characters are ~225 tokens


def test_when_nothing_fits_the_largest_window_is_kept_and_an_unknown_window_is_never_ruled_out() -> None:
    model, ctx = _select("word " * 10000)  # ~12,500 tokens: fits neither window
    assert model == "big" and ctx.response_headers["x-vsr-selection-reason"] == "context_overflow"
    assert ctx.obs["context_excluded"] == "small"
    model, ctx = _select("word " * 10000, decision="with_open")  # a model without a window may be large
    assert model == "open" and ctx.obs["context_excluded"] == "small,big"


def test_a_store_without_a_url_needs_the_redis_cache_and_then_shares_its_server() -> None:
    from semrouter.config.loader import ConfigError
    from semrouter.decide.shared import store_settings

    text = CONFIG.replace("feedback: {", "feedback: {store: {}, ")
    with pytest.raises(ConfigError, match=r"routing.feedback.store.url.*cache.backend: redis"):
        parse_config(text, "test.yaml")
    cache = "cache: {backend: redis, redis: {url: 'redis://cache:6379/2'}}\n"
    url, password, cfg = store_settings(parse_config(cache + text, "test.yaml")) or ("", None, None)
    assert url == "redis://cache:6379/2" and password is None and cfg is not None and cfg.sync_interval_s == 1.0
    assert store_settings(_config()) is None  # no store: each process learns alone, as before


def test_adopting_the_fleets_evidence_replays_what_was_learned_here_since() -> None:
    mine, fleet = Bandit(decay=0.9), Bandit(decay=0.9)
    for b in (mine, fleet):
        b.set_priors({"a": 0.8, "b": 0.6})
    fleet.update("a", 0.0)  # another replica's outcome, already merged in the store
    merged = {m: (s, f) for m, (_, s, f) in fleet.snapshot().items()}
    fleet.update("b", 1.0, 0.5)  # this replica's outcome, queued after the merge was read
    mine.adopt({**merged, "gone": (1.0, 1.0), "b": (merged["b"][0], 0.0)}, [("b", 1.0, 0.5)])
    # "b"'s corrupt count is ignored (its own evidence kept, then the replay); an unknown model is not added
    assert set(mine.arms) == {"a", "b"}
    assert mine.snapshot()["a"] == pytest.approx(fleet.snapshot()["a"])
    assert mine.arms["b"].mean > 0.6
