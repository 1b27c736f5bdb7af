"""Pool policies and endpoint ejection, on Endpoint objects (no network)."""

from __future__ import annotations

from collections import Counter

from semrouter.config.schema import EjectionConfig, EndpointConfig, PoolConfig, PrefixConfig, RouterConfig
from semrouter.context import ApiKind, RequestContext
from semrouter.pool.endpoint import Endpoint
from semrouter.pool.policies import LeastOutstanding, PrefixAffinity, RoundRobin, SessionAffinity, Weighted

CFG = RouterConfig.model_validate(
    {
        "models": [{"name": "m", "endpoints": [{"url": "http://127.0.0.1:1"}]}],
        "decisions": [{"name": "default", "models": [{"model": "m"}]}],
    }
)


def eps(n: int, weights: list[float] | None = None) -> list[Endpoint]:
    weights = weights or [1.0] * n
    return [Endpoint("m", EndpointConfig(url=f"http://10.0.0.{i}:8000", weight=w)) for i, w in enumerate(weights)]


def ctx(text: str = "hi", headers: dict[str, str] | None = None, user: str | None = None) -> RequestContext:
    c = RequestContext(ApiKind.CHAT, b"", headers or {}, CFG)
    c.body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    if user:
        c.body["user"] = user
    return c


def test_round_robin_is_even_and_cyclic():
    e = eps(3)
    p = RoundRobin(PoolConfig())
    picks = [p.choose(e, ctx()) for _ in range(30)]
    assert Counter(x.url for x in picks) == {x.url: 10 for x in e}
    assert picks[0] is not picks[1] and picks[0] is picks[3]


def test_weighted_follows_weights_smoothly():
    e = eps(3, [5, 1, 1])
    p = Weighted(PoolConfig())
    picks = [p.choose(e, ctx()) for _ in range(70)]
    counts = Counter(x.url for x in picks)
    assert [counts[x.url] for x in e] == [50, 10, 10]
    # smooth: the heavy endpoint never takes more than 3 in a row at 5:1:1
    run = longest = 0
    for x in picks:
        run = run + 1 if x is e[0] else 0
        longest = max(longest, run)
    assert longest <= 4


def test_least_outstanding_prefers_idle():
    e = eps(4)
    for i, x in enumerate(e):
        x.outstanding = 10 - i * 3  # e[3] is the idlest
    p = LeastOutstanding(PoolConfig())
    picks = Counter(p.choose(e, ctx()).url for _ in range(400))
    assert picks[e[0].url] == 0  # the busiest is never the lesser of two
    assert picks[e[3].url] > picks[e[2].url] > picks[e[1].url]
    assert LeastOutstanding(PoolConfig()).choose(e[:2], ctx()) is e[1]


def test_session_affinity_sticky_and_minimal_movement():
    e = eps(4)
    p = SessionAffinity(PoolConfig())
    keys = [f"session-{i}" for i in range(200)]
    first = {k: p.choose(e, ctx(headers={"x-session-id": k})) for k in keys}
    again = {k: p.choose(e, ctx(headers={"x-session-id": k})) for k in keys}
    assert first == again
    assert min(Counter(x.url for x in first.values()).values()) > 25  # spread over all four
    gone = e[1]
    rest = [x for x in e if x is not gone]
    moved = {k: p.choose(rest, ctx(headers={"x-session-id": k})) for k in keys}
    for k in keys:  # only the sessions of the removed endpoint move
        if first[k] is not gone:
            assert moved[k] is first[k]
    # the `user` field is the key when no header is sent
    assert p.choose(e, ctx(user="alice")) is p.choose(e, ctx(user="alice"))
    assert p.choose(e, ctx(user="alice")) is p.choose(e, ctx(headers={"x-session-id": "alice"}))


def test_session_without_key_goes_to_least_loaded():
    e = eps(3)
    e[0].outstanding, e[1].outstanding, e[2].outstanding = 5, 0, 3
    assert SessionAffinity(PoolConfig()).choose(e, ctx()) is e[1]


def test_prefix_affinity_prefers_shared_prefix_then_balances():
    e = eps(3)
    p = PrefixAffinity(PoolConfig(prefix=PrefixConfig(block_chars=16, imbalance=4)))
    doc = "You are a contract lawyer. Here is the whole contract text: " + "clause " * 60
    home = p.choose(e, ctx(doc + "Question one?"))
    for q in ("Question two?", "Another question entirely", "third"):
        assert p.choose(e, ctx(doc + q)) is home
    # an unrelated prompt goes by load instead
    home.outstanding = 3
    other = p.choose(e, ctx("short unrelated prompt about cats"))
    assert other is not home
    # too busy: load wins over prefix
    home.outstanding = 10
    assert p.choose(e, ctx(doc + "Question four?")) is not home


def test_prefix_keys_identify_whole_prefix():
    p = PrefixAffinity(PoolConfig(prefix=PrefixConfig(block_chars=8)))
    a = p.block_keys("aaaaaaaabbbbbbbbcccccccc")
    b = p.block_keys("zzzzzzzzbbbbbbbbcccccccc")
    assert len(a) == 3 and set(a).isdisjoint(b)  # same later blocks, different prefix: no match


def test_ejection_backoff_and_readmission():
    ej = EjectionConfig(consecutive_failures=2, base_seconds=10, max_seconds=25)
    e = eps(1)[0]
    assert not e.record_failure(ej, now=100.0)
    assert e.record_failure(ej, now=100.0)  # second in a row: ejected for 10 s
    assert not e.available(105.0) and e.available(110.0)
    e.record_failure(ej, now=110.0)
    assert e.record_failure(ej, now=110.0)  # ejected again: doubled to 20 s
    assert not e.available(129.0) and e.available(130.0)
    e.record_failure(ej, now=130.0)
    e.record_failure(ej, now=130.0)  # capped at 25 s
    assert not e.available(154.0) and e.available(155.0)
    e.record_success()
    e.record_failure(ej, now=200.0)
    assert e.record_failure(ej, now=200.0) and e.available(210.0)  # success reset the back-off


def test_success_resets_consecutive_count():
    ej = EjectionConfig(consecutive_failures=2)
    e = eps(1)[0]
    e.record_failure(ej, now=0)
    e.record_success()
    assert not e.record_failure(ej, now=0)
    assert e.available(0)
